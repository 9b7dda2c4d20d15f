//! [`SparkDivisionRule`]: SQL's `/` as Spark's, for sessions that speak Spark SQL (verger's
//! Spark Connect server): `7 / 2` is 3.5, not DataFusion's integer 3, and `1 / 0` is
//! `[DIVIDE_BY_ZERO]` (ANSI) or NULL, not an Arrow error; `5 / 0.5` is Spark's DECIMAL(8,6)
//! (`spark_decimal_divide`), not DataFusion's DECIMAL(15,4).

use crate::decimal_divide::{DecimalDivide, decimal_of_integer, decimal_of_integer_literal};
use crate::divide::Divide;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, Result, ScalarValue};
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::utils::merge_schema;
use datafusion::logical_expr::{BinaryExpr, Cast, Expr, ExprSchemable, LogicalPlan, Operator, ScalarUDF, cast};
use datafusion::optimizer::AnalyzerRule;
use std::sync::{Arc, LazyLock};

/// The rule's name, to find it among a session's analyzer rules.
pub const SPARK_DIVISION_RULE_NAME: &str = "verger_spark_division";

static SPARK_DECIMAL_DIVIDE: LazyLock<Arc<ScalarUDF>> = LazyLock::new(|| Arc::new(ScalarUDF::new_from_impl(DecimalDivide::new())));
static SPARK_DIVIDE: LazyLock<Arc<ScalarUDF>> = LazyLock::new(|| Arc::new(ScalarUDF::new_from_impl(Divide::new())));

/// Rewrites `a / b` on integers and floating-point numbers into `spark_divide(a, b)`, and on
/// decimals into `spark_decimal_divide(a, b)`. Runs
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

/// The Spark decimal types of the operands of a `/` of decimals (or of a decimal and an
/// integer), each seen through the casts type coercion added: an integer literal has the
/// decimal type of its digits.
fn spark_decimal_operands(expr: &Expr, schema: &DFSchema) -> Option<((u8, i8), (u8, i8))> {
    let Expr::BinaryExpr(BinaryExpr { left, op: Operator::Divide, right }) = expr else { return None };
    let operand = |e: &Expr| -> Option<((u8, i8), bool)> {
        let data_type = e.get_type(schema).ok()?;
        let is_decimal = matches!(data_type, DataType::Decimal128(..));
        let mut inner = e;
        while let Expr::Cast(Cast { expr, .. }) = inner {
            inner = expr;
        }
        if let Expr::Literal(value, _) = inner
            && value.data_type().is_integer()
            && let Ok(ScalarValue::Decimal128(Some(v), ..)) = value.cast_to(&DataType::Decimal128(38, 0))
        {
            return Some((decimal_of_integer_literal(v), is_decimal));
        }
        Some((decimal_of_integer(&data_type)?, is_decimal))
    };
    let ((left, left_decimal), (right, right_decimal)) = (operand(left)?, operand(right)?);
    (left_decimal || right_decimal).then_some((left, right))
}

impl AnalyzerRule for SparkDivisionRule {
    fn name(&self) -> &str {
        SPARK_DIVISION_RULE_NAME
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        rewrite_expressions(plan, |e, schema| {
            if let Some((left, right)) = spark_decimal_operands(&e, schema) {
                let Expr::BinaryExpr(BinaryExpr { left: l, right: r, .. }) = e else { return Ok(Transformed::no(e)) };
                let args = vec![cast(*l, DataType::Decimal128(left.0, left.1)), cast(*r, DataType::Decimal128(right.0, right.1))];
                return Ok(Transformed::yes(SPARK_DECIMAL_DIVIDE.call(args)));
            }
            if !is_spark_division(&e, schema) {
                return Ok(Transformed::no(e));
            }
            let Expr::BinaryExpr(BinaryExpr { left, right, .. }) = e else { return Ok(Transformed::no(e)) };
            let args = vec![cast(*left, DataType::Float64), cast(*right, DataType::Float64)];
            Ok(Transformed::yes(SPARK_DIVIDE.call(args)))
        })
    }
}

/// `plan` with `rewrite` applied bottom-up to every expression of every node (subqueries too),
/// each against its node's input schema; output names are kept and the schemas follow.
pub(crate) fn rewrite_expressions(
    plan: LogicalPlan,
    rewrite: impl Fn(Expr, &DFSchema) -> Result<Transformed<Expr>>,
) -> Result<LogicalPlan> {
    plan.transform_up_with_subqueries(|node| {
        let schema = merge_schema(&node.inputs());
        let names = NamePreserver::new(&node);
        let rewritten = node.map_expressions(|expr| {
            let saved = names.save(&expr);
            let rewritten = expr.transform_up(|e| rewrite(e, &schema))?;
            Ok(if rewritten.transformed { Transformed::yes(saved.restore(rewritten.data)) } else { rewritten })
        })?;
        // An expression's type may have changed: the node's schema (and its parents') follow.
        rewritten.map_data(|n| n.recompute_schema())
    })
    .map(|t| t.data)
}
