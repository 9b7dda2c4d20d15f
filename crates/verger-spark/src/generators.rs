//! Spark's generators in SQL text — `explode`, `explode_outer`, `posexplode`,
//! `posexplode_outer` of an array in a select list — as DataFusion's `unnest`, on the syntax
//! tree (DataFusion has no function of these names to plan).
//!
//! - `explode(xs)` is `unnest(xs) AS col`: no row for a NULL or empty array, as Spark.
//! - The `_outer` forms give one row with a NULL element (and position) for those.
//! - `posexplode` adds the 0-based position, an INT named `pos`, before the element.
//! - As Spark: one generator per select, and none inside another expression.

use datafusion::common::{DataFusionError, Result};
use datafusion::sql::sqlparser::ast::{
    Expr as SqlExpr, Function, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, Select, SelectItem, VisitMut, VisitorMut,
};
use datafusion::sql::sqlparser::dialect::SparkSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use std::ops::ControlFlow;

/// Rewrites the generators of every select in `node` (see the module's documentation).
pub fn spark_generators<V: VisitMut>(node: &mut V) -> Result<()> {
    match node.visit(&mut Generators) {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(error) => Err(error),
    }
}

struct Generators;

/// The generator a function call is, if it is one: (outer, with position).
fn generator_kind(function: &Function) -> Option<(bool, bool)> {
    let [part] = function.name.0.as_slice() else {
        return None;
    };
    let name = part.as_ident()?.value.to_ascii_lowercase();
    match name.as_str() {
        "explode" => Some((false, false)),
        "explode_outer" => Some((true, false)),
        "posexplode" => Some((false, true)),
        "posexplode_outer" => Some((true, true)),
        _ => None,
    }
}

fn is_generator_call(expr: &SqlExpr) -> bool {
    matches!(expr, SqlExpr::Function(function) if generator_kind(function).is_some())
}

fn analysis_error(message: String) -> DataFusionError {
    DataFusionError::Plan(message)
}

/// The one argument of a generator call.
fn only_argument(function: &Function) -> Result<&SqlExpr> {
    let arguments = match &function.args {
        FunctionArguments::List(list) => list.args.as_slice(),
        _ => &[],
    };
    match arguments {
        [FunctionArg::Unnamed(FunctionArgExpr::Expr(argument))] => Ok(argument),
        _ => Err(analysis_error(format!("`{}` takes one argument, an array", function.name))),
    }
}

fn parse_expr(text: &str) -> Result<SqlExpr> {
    Ok(Parser::new(&SparkSqlDialect {}).try_with_sql(text)?.parse_expr()?)
}

/// The select items a generator call stands for: the element named `alias` (else Spark's `col`),
/// after `pos` for the positional forms; none when `function` is no generator.
fn generated_items(function: &Function, alias: Option<&Ident>) -> Result<Vec<SelectItem>> {
    let Some((outer, with_position)) = generator_kind(function) else {
        return Ok(Vec::new());
    };
    let array = only_argument(function)?;
    if with_position && alias.is_some() {
        return Err(analysis_error(format!(
            "[UDTF_ALIAS_NUMBER_MISMATCH] The number of aliases supplied in the AS clause does not match the number of columns output by `{}`. Expected 2 aliases but got 1.",
            function.name
        )));
    }
    // An empty or NULL array gives one NULL element (and position) under `_outer`.
    let or_one_null = |list: String| {
        if outer { format!("CASE WHEN cardinality({array}) > 0 THEN {list} ELSE make_array(NULL) END") } else { list }
    };
    let mut items = Vec::new();
    if with_position {
        let positions = or_one_null(format!("range(0, cardinality({array}))"));
        items.push(SelectItem::ExprWithAlias { expr: parse_expr(&format!("CAST(unnest({positions}) AS INT)"))?, alias: Ident::new("pos") });
    }
    let elements = or_one_null(array.to_string());
    items.push(SelectItem::ExprWithAlias {
        expr: parse_expr(&format!("unnest({elements})"))?,
        alias: alias.cloned().unwrap_or_else(|| Ident::new("col")),
    });
    Ok(items)
}

impl Generators {
    fn rewrite(select: &mut Select) -> Result<()> {
        let mut found = false;
        let mut projection = Vec::with_capacity(select.projection.len());
        for item in std::mem::take(&mut select.projection) {
            let call = match &item {
                SelectItem::UnnamedExpr(SqlExpr::Function(function)) => Some((function, None)),
                SelectItem::ExprWithAlias { expr: SqlExpr::Function(function), alias } => Some((function, Some(alias))),
                _ => None,
            };
            let generated = match call {
                Some((function, alias)) => generated_items(function, alias)?,
                None => Vec::new(),
            };
            if generated.is_empty() {
                projection.push(item);
                continue;
            }
            if found {
                return Err(analysis_error(
                    "[UNSUPPORTED_GENERATOR.MULTI_GENERATOR] Only one generator is allowed per select clause.".into(),
                ));
            }
            found = true;
            projection.extend(generated);
        }
        select.projection = projection;
        let mut nested = false;
        let _ = datafusion::sql::sqlparser::ast::visit_expressions(select, |expr| {
            nested |= is_generator_call(expr);
            ControlFlow::<()>::Continue(())
        });
        if nested {
            return Err(analysis_error(
                "[UNSUPPORTED_GENERATOR.NESTED_IN_EXPRESSIONS] A generator (explode, posexplode, …) must be a whole item of the select list, not inside another expression."
                    .into(),
            ));
        }
        Ok(())
    }
}

impl VisitorMut for Generators {
    type Break = DataFusionError;

    fn post_visit_select(&mut self, select: &mut Select) -> ControlFlow<DataFusionError> {
        match Self::rewrite(select) {
            Ok(()) => ControlFlow::Continue(()),
            Err(error) => ControlFlow::Break(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::ast::Statement;

    fn rewrite(sql: &str) -> String {
        let mut statements: Vec<Statement> = match Parser::parse_sql(&SparkSqlDialect {}, sql) {
            Ok(statements) => statements,
            Err(error) => return format!("error: {error}"),
        };
        match spark_generators(&mut statements) {
            Ok(()) => statements.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
            Err(error) => format!("error: {error}"),
        }
    }

    #[test]
    fn generators_become_unnest() {
        assert_eq!(rewrite("SELECT id, explode(xs) FROM t"), "SELECT id, unnest(xs) AS col FROM t");
        assert_eq!(rewrite("SELECT EXPLODE(split(s, ' ')) AS w FROM t"), "SELECT unnest(split(s, ' ')) AS w FROM t");
        assert_eq!(
            rewrite("SELECT posexplode(xs) FROM t"),
            "SELECT CAST(unnest(range(0, cardinality(xs))) AS INT) AS pos, unnest(xs) AS col FROM t"
        );
        assert_eq!(
            rewrite("SELECT explode_outer(xs) FROM t"),
            "SELECT unnest(CASE WHEN cardinality(xs) > 0 THEN xs ELSE make_array(NULL) END) AS col FROM t"
        );
        assert_eq!(rewrite("SELECT * FROM (SELECT explode(xs) FROM t) AS u"), "SELECT * FROM (SELECT unnest(xs) AS col FROM t) AS u");
    }

    #[test]
    fn misplaced_generators_are_refused_by_name() {
        assert!(rewrite("SELECT explode(xs), explode(ys) FROM t").contains("MULTI_GENERATOR"));
        assert!(rewrite("SELECT explode(xs) + 1 FROM t").contains("NESTED_IN_EXPRESSIONS"));
        assert!(rewrite("SELECT * FROM t WHERE explode(xs) > 1").contains("NESTED_IN_EXPRESSIONS"));
        assert!(rewrite("SELECT posexplode(xs) AS x FROM t").contains("UDTF_ALIAS_NUMBER_MISMATCH"));
        assert!(rewrite("SELECT explode(xs, ys) FROM t").contains("takes one argument"));
    }
}
