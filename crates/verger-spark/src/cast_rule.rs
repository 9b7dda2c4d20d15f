//! [`SparkCastRule`]: casts that DataFusion writes differently from Spark, for sessions that
//! speak Spark SQL. A timestamp cast to a string is Spark's `2000-01-01 00:00:00.5`, not
//! RFC 3339's `2000-01-01T00:00:00.500Z` (explicit casts and the ones type coercion adds).

use crate::division_rule::rewrite_expressions;
use crate::timestamp_text::TimestampText;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::logical_expr::{Cast, Expr, ExprSchemable, LogicalPlan, ScalarUDF, TryCast, cast};
use datafusion::optimizer::AnalyzerRule;
use std::sync::{Arc, LazyLock};

/// The rule's name, to find it among a session's analyzer rules.
pub const SPARK_CAST_RULE_NAME: &str = "verger_spark_cast";

static TIMESTAMP_TEXT: LazyLock<Arc<ScalarUDF>> = LazyLock::new(|| Arc::new(ScalarUDF::new_from_impl(TimestampText::new())));

/// Rewrites `CAST(timestamp AS STRING)` into Spark's text of the timestamp. Runs after type
/// coercion.
#[derive(Debug, Default)]
pub struct SparkCastRule;

fn is_text(data_type: &DataType) -> bool {
    matches!(data_type, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

impl AnalyzerRule for SparkCastRule {
    fn name(&self) -> &str {
        SPARK_CAST_RULE_NAME
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        rewrite_expressions(plan, |e, schema| {
            let (inner, target) = match &e {
                Expr::Cast(Cast { expr, field }) | Expr::TryCast(TryCast { expr, field }) if is_text(field.data_type()) => {
                    (expr, field.data_type().clone())
                }
                _ => return Ok(Transformed::no(e)),
            };
            if !matches!(inner.get_type(schema), Ok(DataType::Timestamp(..))) {
                return Ok(Transformed::no(e));
            }
            let text = TIMESTAMP_TEXT.call(vec![inner.as_ref().clone()]);
            Ok(Transformed::yes(if target == DataType::Utf8 { text } else { cast(text, target) }))
        })
    }
}
