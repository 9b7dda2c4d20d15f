//! Spark-exact SQL functions for DataFusion.
//!
//! [`element_at`](ElementAt), [`try_element_at`](ElementAt::try_variant) and [`split`](Split)
//! behave as in Spark 4 with ANSI mode on (DataFusion's
//! `datafusion.execution.enable_ansi_mode`, which verger sessions turn on by default).
//! [`all_spark_functions`] adds every function of the `datafusion-spark` crate as well, and
//! the Spark functions neither DataFusion nor `datafusion-spark` has (or has not as Spark):
//! [`round` and `bround`](Round), [`size`](Size) (NULL for NULL under ANSI),
//! [`isnan`](IsNan) (false for NULL), [`regexp_extract`](RegexpExtract), [`regexp_replace`](RegexpReplace) (every match), [`sort_array`](SortArray) and the calendar fields
//! ([`year`, `month`, `dayofmonth`, …](DateField)), [`date_format`](DateFormat) with Java patterns; [`spark_aggregate_functions`] Spark's
//! aggregate names DataFusion lacks (`variance`). [`SparkDivisionRule`] makes SQL's `/`
//! Spark's (`spark_divide`) for sessions that speak Spark SQL, [`SparkCastRule`] a timestamp
//! cast to a string.
//! [`range`] is Spark's `range` as a table source. [`spark_numeric_suffixes`] and
//! [`spark_integer_literals`] give SQL text's numbers Spark's types (`1` INT, `1L`, `0.5D`, …),
//! [`spark_type_names`] its type names (`TIMESTAMP` is Spark's, in the session time zone).

mod cast_rule;
mod coerce;
mod date_field;
mod date_format;
mod decimal_divide;
mod divide;
mod division_rule;
mod element_at;
mod generators;
mod isnan;
mod literals;
pub mod range;
mod regexp_extract;
mod regexp_replace;
mod round;
mod size;
mod sort_array;
mod split;
mod timestamp_text;
mod type_names;

pub use cast_rule::{SPARK_CAST_RULE_NAME, SparkCastRule};
pub use date_field::{DateField, Field as DateFieldKind};
pub use date_format::DateFormat;
pub use decimal_divide::DecimalDivide;
pub use divide::Divide;
pub use division_rule::{SPARK_DIVISION_RULE_NAME, SparkDivisionRule};
pub use element_at::ElementAt;
pub use generators::spark_generators;
pub use isnan::IsNan;
pub use literals::{spark_integer_literals, spark_numeric_suffixes};
pub use regexp_extract::RegexpExtract;
pub use regexp_replace::RegexpReplace;
pub use round::Round;
pub use size::Size;
pub use sort_array::SortArray;
pub use split::Split;
pub use timestamp_text::TimestampText;
pub use type_names::spark_type_names;

use datafusion::logical_expr::{AggregateUDF, ScalarUDF};
use std::sync::Arc;

/// verger's own Spark functions.
pub fn verger_spark_functions() -> Vec<Arc<ScalarUDF>> {
    vec![
        Arc::new(ScalarUDF::new_from_impl(ElementAt::new())),
        Arc::new(ScalarUDF::new_from_impl(ElementAt::try_variant())),
        Arc::new(ScalarUDF::new_from_impl(Split::new())),
        Arc::new(ScalarUDF::new_from_impl(Round::half_up())),
        Arc::new(ScalarUDF::new_from_impl(Round::half_even())),
        Arc::new(ScalarUDF::new_from_impl(RegexpExtract::new())),
        Arc::new(ScalarUDF::new_from_impl(RegexpReplace::new())),
        Arc::new(ScalarUDF::new_from_impl(SortArray::new())),
        Arc::new(ScalarUDF::new_from_impl(Size::new())),
        Arc::new(ScalarUDF::new_from_impl(IsNan::new())),
        Arc::new(ScalarUDF::new_from_impl(DateFormat::new())),
        Arc::new(ScalarUDF::new_from_impl(TimestampText::new())),
        Arc::new(ScalarUDF::new_from_impl(Divide::new())),
        Arc::new(ScalarUDF::new_from_impl(Divide::try_variant())),
        Arc::new(ScalarUDF::new_from_impl(Divide::integral())),
        Arc::new(ScalarUDF::new_from_impl(DecimalDivide::new())),
    ]
    .into_iter()
    .chain(DateFieldKind::ALL.into_iter().map(|field| Arc::new(ScalarUDF::new_from_impl(DateField::new(field)))))
    .collect()
}

/// Spark's aggregate names that DataFusion's aggregates lack: `variance` (the sample
/// variance, DataFusion's `var`).
pub fn spark_aggregate_functions() -> Vec<Arc<AggregateUDF>> {
    let variance = datafusion::functions_aggregate::variance::var_samp_udaf();
    vec![Arc::new(variance.as_ref().clone().with_aliases(["variance"]))]
}

/// Every Spark scalar function: `datafusion-spark`'s, then verger's (which win on a name clash).
pub fn all_spark_functions() -> Vec<Arc<ScalarUDF>> {
    let ours = verger_spark_functions();
    let claimed: Vec<&str> = ours.iter().flat_map(|f| std::iter::once(f.name()).chain(f.aliases().iter().map(String::as_str))).collect();
    let mut functions: Vec<Arc<ScalarUDF>> =
        datafusion_spark::all_default_scalar_functions().into_iter().filter(|f| !claimed.contains(&f.name())).collect();
    functions.extend(ours.iter().cloned());
    functions
}
