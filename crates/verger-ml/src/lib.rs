//! verger's scaling and PCA (features → scaled / reduced), with Spark ML's semantics
//! (shared/spark-semantics.md):
//! - fits are aggregates — [`StandardScalerFit`] (`standard_scaler_fit`), [`PcaFit`]
//!   (`pca_fit`) and [`StandardizedPcaFit`] (`standardized_pca_fit`, the PCA of the scaled
//!   features from the same single pass as the scaler) — whose partial states merge exactly
//!   (Chan et al.), so they run in two phases across partitions and executors;
//! - fitted models are SQL struct values ([`ScalerModel`], [`PcaModel`]) that can be stored
//!   and reused;
//! - transforms are scalar functions — [`StandardScale`] (`standard_scale`) and
//!   [`PcaTransform`] (`pca_transform`);
//! - `pca(features [, k])` and `standardize(features [, with_mean, with_std])` fit and
//!   transform in one call ([`one_liner`]).

mod args;
mod error;
mod model;
mod moments;
pub mod one_liner;
mod pca;
mod scaler;
pub mod spark_vector;
mod vectors;

pub use error::MlError;
pub use model::{FittedModel, RowModels};
pub use moments::{Moments, Second};
pub use pca::{Components, PcaFit, PcaModel, PcaTransform, StandardizedPcaFit, fit_components};
pub use scaler::{ScalerModel, StandardScale, StandardScalerFit};
pub use vectors::{VectorColumn, coerce_vector_type};

use datafusion::logical_expr::{AggregateUDF, ScalarUDF};
use std::sync::Arc;

/// The fits: `standard_scaler_fit`, `pca_fit`, `standardized_pca_fit`.
pub fn ml_aggregate_functions() -> Vec<Arc<AggregateUDF>> {
    vec![
        Arc::new(AggregateUDF::from(StandardScalerFit::default())),
        Arc::new(AggregateUDF::from(PcaFit::default())),
        Arc::new(AggregateUDF::from(StandardizedPcaFit::default())),
    ]
}

/// The transforms (`standard_scale`, `pca_transform`), the one-liners (`pca`,
/// `standardize`), Spark ML's vectors (`array_to_vector`, `vector_to_array`,
/// `vector_assemble`) and the internal model broadcast the one-liners use.
pub fn ml_scalar_functions() -> Vec<Arc<ScalarUDF>> {
    let mut functions = vec![
        Arc::new(ScalarUDF::from(StandardScale::default())),
        Arc::new(ScalarUDF::from(PcaTransform::default())),
        Arc::new(ScalarUDF::from(one_liner::BroadcastModel::default())),
        Arc::new(ScalarUDF::from(one_liner::BroadcastKey::default())),
        Arc::new(ScalarUDF::from(one_liner::PcaExplainedVariance::default())),
        Arc::new(ScalarUDF::from(spark_vector::ArrayToVector::default())),
        Arc::new(ScalarUDF::from(spark_vector::VectorToArray::default())),
        Arc::new(ScalarUDF::from(spark_vector::VectorAssemble::default())),
    ];
    functions.extend(one_liner::ONE_LINERS.iter().map(|spec| Arc::new(ScalarUDF::from(one_liner::OneLinerFunction::new(*spec)))));
    functions
}
