//! Constant arguments of the fits (k, with_mean, with_std): literals, read when the
//! accumulator is created, so a bad value fails before any row is read.

use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Literal;
use std::sync::Arc;

pub const DOC_SECTION: datafusion::logical_expr::DocSection =
    datafusion::logical_expr::DocSection { include: true, label: "Scaling and PCA Functions", description: None };

/// The literal value of argument `index` (0-based), `None` when absent.
pub fn literal(function: &str, exprs: &[Arc<dyn PhysicalExpr>], index: usize, name: &str) -> Result<Option<ScalarValue>> {
    let Some(expr) = exprs.get(index) else { return Ok(None) };
    match expr.downcast_ref::<Literal>() {
        Some(literal) => Ok(Some(literal.value().clone())),
        None => plan_err!("{function}: `{name}` must be a constant, got {expr}"),
    }
}

/// A boolean literal argument, `default` when absent.
pub fn boolean(function: &str, exprs: &[Arc<dyn PhysicalExpr>], index: usize, name: &str, default: bool) -> Result<bool> {
    match literal(function, exprs, index, name)? {
        None => Ok(default),
        Some(ScalarValue::Boolean(Some(b))) => Ok(b),
        Some(other) => plan_err!("{function}: `{name}` must be TRUE or FALSE, got {other}"),
    }
}
