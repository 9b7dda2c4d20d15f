//! Spark-exact SQL functions for DataFusion.
//!
//! [`element_at`](ElementAt), [`try_element_at`](ElementAt::try_variant) and [`split`](Split)
//! behave as in Spark 4 with ANSI mode on (DataFusion's
//! `datafusion.execution.enable_ansi_mode`, which verger sessions turn on by default).
//! [`all_spark_functions`] adds every function of the `datafusion-spark` crate as well.
//! [`range`] is Spark's `range` as a table source.

mod element_at;
pub mod range;
mod split;

pub use element_at::ElementAt;
pub use split::Split;

use datafusion::logical_expr::ScalarUDF;
use std::sync::Arc;

/// verger's own Spark functions.
pub fn verger_spark_functions() -> Vec<Arc<ScalarUDF>> {
    vec![
        Arc::new(ScalarUDF::new_from_impl(ElementAt::new())),
        Arc::new(ScalarUDF::new_from_impl(ElementAt::try_variant())),
        Arc::new(ScalarUDF::new_from_impl(Split::new())),
    ]
}

/// Every Spark scalar function: `datafusion-spark`'s, then verger's (which win on a name clash).
pub fn all_spark_functions() -> Vec<Arc<ScalarUDF>> {
    let mut functions = datafusion_spark::all_default_scalar_functions();
    functions.extend(verger_spark_functions());
    functions
}
