//! PCA: `pca_fit` and `standardized_pca_fit` (aggregates) and `pca_transform` (scalar).

mod eigen;
mod fit;
mod model;
mod standardized;
mod transform;

pub use fit::{Components, PcaFit, fit_components};
pub use model::PcaModel;
pub use standardized::{NAME as STANDARDIZED_PCA_FIT, StandardizedPcaFit};
pub use transform::PcaTransform;
