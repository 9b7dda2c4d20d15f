//! [`SparkDivisionRule`]: SQL's `/` as Spark's, for sessions that speak Spark SQL (verger's
//! Spark Connect server): `7 / 2` is 3.5, not DataFusion's integer 3, and `1 / 0` is
//! `[DIVIDE_BY_ZERO]` (ANSI) or NULL, not an Arrow error. Decimal division keeps DataFusion's
//! decimal `/`.

use crate::divide::Divide;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::utils::merge_schema;
use datafusion::logical_expr::{BinaryExpr, Expr, ExprSchemable, LogicalPlan, Operator, ScalarUDF, cast};
use datafusion::optimizer::AnalyzerRule;
use std::sync::{Arc, LazyLock};

/// The rule's name, to find it among a session's analyzer rules.
pub const SPARK_DIVISION_RULE_NAME: &str = "verger_spark_division";

static SPARK_DIVIDE: LazyLock<Arc<ScalarUDF>> = LazyLock::new(|| Arc::new(ScalarUDF::new_from_impl(Divide::new())));

/// Rewrites `a / b` on integers and floating-point numbers into `spark_divide(a, b)`. Runs
/// after type coercion; output names are kept, so the rest of the plan still finds them.
#[derive(Debug, Default)]
pub struct SparkDivisionRule;

/// Whether `expr` is a `/` of two integers or floats; an operand whose type cannot be read
/// against `schema` (a node that evaluates against its own schema) leaves it alone.
fn is_spark_division(expr: &Expr, schema: &DFSchema) -> bool {
    let Expr::BinaryExpr(BinaryExpr { left, op: Operator::Divide, right }) = expr else { return false };
    let fractional_or_integer = |e: &Expr| e.get_type(schema).is_ok_and(|t| t.is_integer() || t.is_floating() || t.is_null());
    fractional_or_integer(left) && fractional_or_integer(right)
}

impl AnalyzerRule for SparkDivisionRule {
    fn name(&self) -> &str {
        SPARK_DIVISION_RULE_NAME
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(|node| {
            let schema = merge_schema(&node.inputs());
            let names = NamePreserver::new(&node);
            let rewritten = node.map_expressions(|expr| {
                let saved = names.save(&expr);
                let rewritten = expr.transform_up(|e| {
                    if !is_spark_division(&e, &schema) {
                        return Ok(Transformed::no(e));
                    }
                    let Expr::BinaryExpr(BinaryExpr { left, right, .. }) = e else { return Ok(Transformed::no(e)) };
                    let args = vec![cast(*left, DataType::Float64), cast(*right, DataType::Float64)];
                    Ok(Transformed::yes(SPARK_DIVIDE.call(args)))
                })?;
                Ok(if rewritten.transformed { Transformed::yes(saved.restore(rewritten.data)) } else { rewritten })
            })?;
            // A quotient's type changed: the node's schema (and its parents') follow.
            rewritten.map_data(|n| n.recompute_schema())
        })
        .map(|t| t.data)
    }
}
