//! Spark's multiset operations, `intersectAll` and `exceptAll`.
//!
//! DataFusion's INTERSECT ALL / EXCEPT ALL are a semi / anti join: they keep every copy of a
//! left row that has a match (or has none). Spark keeps `min(m, n)` copies (intersect) or
//! `max(m - n, 0)` copies (except) of a row seen `m` times on the left and `n` on the right.
//! This is Spark's own rewrite: one aggregation counts each distinct row's copies per side
//! (NULLs group together, as set operations compare them equal), then each row is repeated
//! by the count it keeps. Every step is a plain DataFusion node, so it crosses to a cluster.

use crate::error::{ConnectError, ConnectResult};
use datafusion::dataframe::DataFrame;
use datafusion::execution::FunctionRegistry;
use datafusion::functions_aggregate::expr_fn::sum;
use datafusion::logical_expr::{Expr, col, lit, when};
use datafusion::prelude::SessionContext;

const LEFT_COPIES: &str = "__verger_left_copies";
const RIGHT_COPIES: &str = "__verger_right_copies";
const KEPT: &str = "__verger_kept";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Multiset {
    IntersectAll,
    ExceptAll,
}

/// `left` ∩ / − `right` with duplicates counted; columns are matched by position, under the
/// left side's names, as Spark does.
pub fn multiset(ctx: &SessionContext, left: DataFrame, right: DataFrame, op: Multiset) -> ConnectResult<DataFrame> {
    let name = if op == Multiset::IntersectAll { "INTERSECT ALL" } else { "EXCEPT ALL" };
    let right = by_position(&left, right, name)?;
    let left_columns = left.schema().columns();
    let tagged = |df: DataFrame, from_left: bool| -> ConnectResult<DataFrame> {
        let mut select: Vec<Expr> = df.schema().columns().into_iter().map(Expr::Column).collect();
        select.push(lit(i64::from(from_left)).alias(LEFT_COPIES));
        select.push(lit(i64::from(!from_left)).alias(RIGHT_COPIES));
        Ok(df.select(select)?)
    };
    let left = tagged(left, true)?;
    let right = tagged(right, false)?;
    let names: Vec<Expr> = left_columns.into_iter().map(Expr::Column).collect();
    let counted = left
        .union(right)?
        .aggregate(names.clone(), vec![sum(col(LEFT_COPIES)).alias(LEFT_COPIES), sum(col(RIGHT_COPIES)).alias(RIGHT_COPIES)])?;
    let (l, r) = (col(LEFT_COPIES), col(RIGHT_COPIES));
    let kept = match op {
        Multiset::IntersectAll => when(l.clone().lt(r.clone()), l).otherwise(r)?,
        Multiset::ExceptAll => l - r,
    };
    let repeat = ctx.state().udf("array_repeat")?;
    let mut select = names.clone();
    select.push(repeat.call(vec![lit(true), kept.clone()]).alias(KEPT));
    let repeated = counted.filter(kept.gt(lit(0i64)))?.select(select)?.unnest_columns(&[KEPT])?;
    Ok(repeated.select(names)?)
}

/// `right`'s columns under `left`'s names, matched by position, as Spark's set operations do;
/// `operation` names the operation in the error when the column counts differ.
pub fn by_position(left: &DataFrame, right: DataFrame, operation: &str) -> ConnectResult<DataFrame> {
    let names = left.schema().columns();
    let columns = right.schema().columns();
    if names.len() != columns.len() {
        return Err(ConnectError::analysis(format!(
            "[NUM_COLUMNS_MISMATCH] {operation} can only be performed on inputs with the same number of columns, but the first input has {} columns and the second input has {} columns.",
            names.len(),
            columns.len()
        )));
    }
    Ok(right.select(columns.into_iter().zip(&names).map(|(c, n)| Expr::Column(c).alias(n.name.clone())).collect::<Vec<_>>())?)
}
