//! Spark SQL's numeric literals, for sessions that speak Spark SQL.
//!
//! | Spark text | Spark type | DataFusion, untouched |
//! |---|---|---|
//! | `1`, `-7` | INT (BIGINT past its range) | BIGINT |
//! | `1L`, `1S`, `1Y` | BIGINT, SMALLINT, TINYINT | BIGINT, or `1 AS S` |
//! | `0.1` | DECIMAL(1,1) | DOUBLE (decimal with `parse_float_as_decimal`) |
//! | `1e3`, `0.1D`, `0.1F` | DOUBLE, DOUBLE, FLOAT | decimal, or `0.1 AS D` |
//! | `0.1BD` | DECIMAL(1,1) | `0.1 AS BD` |
//!
//! Two passes make them Spark's: [`spark_numeric_suffixes`] rewrites the suffixed forms in the
//! SQL text (before parsing, which would take the suffix for an alias) into casts, and
//! [`spark_integer_literals`] makes the parsed numbers that fit an INT INTs. Decimals need the
//! session's `datafusion.sql_parser.parse_float_as_decimal`.

use datafusion::common::{DataFusionError, Result};
use datafusion::sql::sqlparser::ast::{
    CastKind, DataType as SqlDataType, Expr as SqlExpr, Function, GroupByExpr, Ident, LimitClause, NamedWindowDefinition, NamedWindowExpr,
    OrderBy, OrderByKind, Query, Select, SelectItem, UnaryOperator, Value, ValueWithSpan, VisitMut, VisitorMut, WindowFrameBound,
    WindowSpec, WindowType,
};
use datafusion::sql::sqlparser::dialect::Dialect;
use datafusion::sql::sqlparser::parser::ParserError;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
use std::borrow::Cow;
use std::ops::ControlFlow;

/// `sql` with Spark's suffixed and exponent numeric literals as casts DataFusion plans with
/// Spark's types: `1S` → `CAST(1 AS SMALLINT)`, `0.5D` / `1e3` → `CAST('0.5' AS DOUBLE)`,
/// `0.5BD` → `CAST(0.5 AS DECIMAL(1,1))`, `7L` → `CAST(7 AS BIGINT)` (so that it stays BIGINT
/// through [`spark_integer_literals`]). Text the tokenizer refuses is returned unchanged, for
/// the parser to report.
pub fn spark_numeric_suffixes<'a>(sql: &'a str, dialect: &dyn Dialect) -> Result<Cow<'a, str>> {
    let Ok(tokens) = Tokenizer::new(dialect, sql).tokenize_with_location() else { return Ok(Cow::Borrowed(sql)) };
    let offsets = LineOffsets::new(sql);
    let mut rewritten = String::with_capacity(sql.len() + 16);
    let mut copied = 0;
    let mut index = 0;
    while index < tokens.len() {
        let Token::Number(number, long) = &tokens[index].token else {
            index += 1;
            continue;
        };
        let suffix = match (long, tokens.get(index + 1).map(|t| &t.token)) {
            (true, _) => Some("L".to_owned()),
            (false, Some(Token::Word(word))) if word.quote_style.is_none() && is_suffix(&word.value) => {
                Some(word.value.to_ascii_uppercase())
            }
            _ => None,
        };
        let exponent = number.contains(['e', 'E']);
        if suffix.is_none() && !exponent {
            index += 1;
            continue;
        }
        let consumed = if suffix.is_some() && !long { 2 } else { 1 };
        let start = offsets.byte(sql, tokens[index].span.start.line, tokens[index].span.start.column);
        let end = tokens.get(index + consumed).map_or(sql.len(), |t| offsets.byte(sql, t.span.start.line, t.span.start.column));
        let literal = &sql[start..end];
        rewritten.push_str(&sql[copied..start]);
        rewritten.push_str(&spark_literal(literal, number, suffix.as_deref())?);
        copied = end;
        index += consumed;
    }
    if copied == 0 {
        return Ok(Cow::Borrowed(sql));
    }
    rewritten.push_str(&sql[copied..]);
    Ok(Cow::Owned(rewritten))
}

fn is_suffix(word: &str) -> bool {
    ["L", "S", "Y", "D", "F", "BD"].iter().any(|s| word.eq_ignore_ascii_case(s))
}

/// The cast that gives `number` (the digits of `literal`) the type of its Spark `suffix`.
fn spark_literal(literal: &str, number: &str, suffix: Option<&str>) -> Result<String> {
    let digits = number.replace('_', "");
    let integral = !digits.contains(['.', 'e', 'E']);
    let integer = |sql_type: &str| {
        if integral {
            Ok(format!("CAST({digits} AS {sql_type})"))
        } else {
            Err(parse_error(format!("{literal} is not a valid {sql_type} literal: an integer literal takes no fraction or exponent")))
        }
    };
    match suffix {
        Some("L") => integer("BIGINT"),
        Some("S") => integer("SMALLINT"),
        Some("Y") => integer("TINYINT"),
        Some("F") => Ok(format!("CAST('{digits}' AS FLOAT)")),
        Some("BD") => {
            let (precision, scale) = decimal_shape(&digits).ok_or_else(|| {
                parse_error(format!("{literal} is not a valid DECIMAL literal: write its digits in full, without an exponent"))
            })?;
            Ok(format!("CAST({digits} AS DECIMAL({precision},{scale}))"))
        }
        // `D`, or an exponent without a suffix.
        _ => Ok(format!("CAST('{digits}' AS DOUBLE)")),
    }
}

/// Spark's precision and scale of a plain decimal number (`12.50` → (4, 2), `.5` → (1, 1)).
fn decimal_shape(digits: &str) -> Option<(usize, usize)> {
    if digits.contains(['e', 'E']) {
        return None;
    }
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let whole = whole.trim_start_matches('0');
    let precision = (whole.len() + fraction.len()).max(1);
    (precision <= 38).then_some((precision, fraction.len()))
}

fn parse_error(message: String) -> DataFusionError {
    DataFusionError::SQL(Box::new(ParserError::ParserError(message)), None)
}

/// Byte offsets of the tokenizer's (line, column) locations, both counted from 1, columns in
/// characters.
struct LineOffsets(Vec<usize>);

impl LineOffsets {
    fn new(sql: &str) -> Self {
        Self(std::iter::once(0).chain(sql.match_indices('\n').map(|(i, _)| i + 1)).collect())
    }

    fn byte(&self, sql: &str, line: u64, column: u64) -> usize {
        let line_start = usize::try_from(line).ok().and_then(|l| self.0.get(l.saturating_sub(1))).copied().unwrap_or(sql.len());
        let chars = usize::try_from(column.saturating_sub(1)).unwrap_or(usize::MAX);
        sql[line_start..].char_indices().nth(chars).map_or(sql.len(), |(i, _)| line_start + i)
    }
}

/// Spark's INT integer literals in a parsed statement or expression: each number that fits an
/// INT becomes `CAST(n AS INT)` (DataFusion plans a bare `n` as BIGINT, and planning checks
/// function signatures, so this happens on the syntax tree). Numbers that are positions or
/// counts stay as they are: `GROUP BY 1`, `ORDER BY 1`, `LIMIT`/`OFFSET`, window frame bounds,
/// `INTERVAL 1 DAY`. A select item that changes keeps its text as its name (`SELECT 1` is `1`,
/// as in Spark).
pub fn spark_integer_literals<V: VisitMut>(node: &mut V) {
    let _ = node.visit(&mut IntegerLiterals);
}

struct IntegerLiterals;

/// Marks a bare number as one to keep: the tokenizer's `L` flag, which DataFusion ignores and
/// which no other number carries here (`1L` is already a cast, see [`spark_numeric_suffixes`]).
fn keep(expr: &mut SqlExpr) {
    if let SqlExpr::Value(ValueWithSpan { value: Value::Number(_, long), .. }) = expr {
        *long = true;
    }
}

fn keep_window(spec: &mut WindowSpec) {
    spec.order_by.iter_mut().for_each(|o| keep(&mut o.expr));
    if let Some(frame) = &mut spec.window_frame {
        for bound in std::iter::once(&mut frame.start_bound).chain(frame.end_bound.as_mut()) {
            if let WindowFrameBound::Preceding(Some(e)) | WindowFrameBound::Following(Some(e)) = bound {
                keep(e);
            }
        }
    }
}

/// The INT a bare number (or a negated one) stands for, if it fits.
fn int_literal(expr: &SqlExpr) -> Option<i32> {
    match expr {
        SqlExpr::Value(ValueWithSpan { value: Value::Number(n, false), .. }) => n.replace('_', "").parse().ok(),
        SqlExpr::UnaryOp { op: UnaryOperator::Minus, expr } => match expr.as_ref() {
            SqlExpr::Value(ValueWithSpan { value: Value::Number(n, false), .. }) => format!("-{}", n.replace('_', "")).parse().ok(),
            _ => None,
        },
        _ => None,
    }
}

fn has_int_literal(expr: &SqlExpr) -> bool {
    let mut found = false;
    let _ = datafusion::sql::sqlparser::ast::visit_expressions(expr, |e| {
        found |= int_literal(e).is_some();
        if found { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
    });
    found
}

impl VisitorMut for IntegerLiterals {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        if let Some(OrderBy { kind: OrderByKind::Expressions(exprs), .. }) = &mut query.order_by {
            exprs.iter_mut().for_each(|o| keep(&mut o.expr));
        }
        match &mut query.limit_clause {
            Some(LimitClause::LimitOffset { limit, offset, limit_by }) => {
                limit.iter_mut().chain(offset.as_mut().map(|o| &mut o.value)).chain(limit_by.iter_mut()).for_each(keep);
            }
            Some(LimitClause::OffsetCommaLimit { offset, limit }) => {
                keep(offset);
                keep(limit);
            }
            None => {}
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<()> {
        if let GroupByExpr::Expressions(exprs, _) = &mut select.group_by {
            exprs.iter_mut().for_each(keep);
        }
        for NamedWindowDefinition(_, window) in &mut select.named_window {
            if let NamedWindowExpr::WindowSpec(spec) = window {
                keep_window(spec);
            }
        }
        for item in &mut select.projection {
            if let SelectItem::UnnamedExpr(expr) = item
                && has_int_literal(expr)
            {
                let name = Ident::with_quote('`', expr.to_string());
                *item = SelectItem::ExprWithAlias { expr: expr.clone(), alias: name };
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &mut SqlExpr) -> ControlFlow<()> {
        match expr {
            SqlExpr::Interval(interval) => keep(&mut interval.value),
            SqlExpr::Function(Function { over: Some(WindowType::WindowSpec(spec)), .. }) => keep_window(spec),
            _ => {}
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut SqlExpr) -> ControlFlow<()> {
        if int_literal(expr).is_some() {
            let number = std::mem::replace(expr, SqlExpr::value(Value::Null));
            *expr = SqlExpr::Cast {
                kind: CastKind::Cast,
                expr: Box::new(number),
                data_type: SqlDataType::Int(None),
                array: false,
                format: None,
            };
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::SparkSqlDialect;

    fn rewrite(sql: &str) -> String {
        spark_numeric_suffixes(sql, &SparkSqlDialect {}).map(|s| s.into_owned()).unwrap_or_else(|e| format!("error: {e}"))
    }

    #[test]
    fn suffixes_become_casts_and_the_rest_is_untouched() {
        assert_eq!(rewrite("SELECT 1, 0.5, 'x1D', `a1D` FROM t LIMIT 3"), "SELECT 1, 0.5, 'x1D', `a1D` FROM t LIMIT 3");
        assert_eq!(rewrite("SELECT -3.7D AS x, 2S, 3y"), "SELECT -CAST('3.7' AS DOUBLE) AS x, CAST(2 AS SMALLINT), CAST(3 AS TINYINT)");
        assert_eq!(
            rewrite("SELECT 7L, 1e3, 2.5f,\n  12.50BD"),
            "SELECT CAST(7 AS BIGINT), CAST('1e3' AS DOUBLE), CAST('2.5' AS FLOAT),\n  CAST(12.50 AS DECIMAL(4,2))"
        );
        assert_eq!(rewrite("SELECT 1 d, 'é' || 0.1D"), "SELECT 1 d, 'é' || CAST('0.1' AS DOUBLE)");
        assert!(rewrite("SELECT 1.5S").starts_with("error:"), "{}", rewrite("SELECT 1.5S"));
        assert!(rewrite("SELECT 1e5BD").starts_with("error:"));
    }

    fn integers(sql: &str) -> String {
        let mut statements = datafusion::sql::sqlparser::parser::Parser::parse_sql(&SparkSqlDialect {}, sql).unwrap_or_default();
        statements.iter_mut().for_each(spark_integer_literals);
        statements.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn integers_are_ints_but_positions_and_counts_stay() {
        assert_eq!(
            integers("SELECT k, 1, -7 AS m, 3000000000 AS big FROM t WHERE k IN (1, 2) GROUP BY 1 ORDER BY 2 LIMIT 5 OFFSET 1"),
            // The kept numbers print with the `L` that marks them.
            "SELECT k, CAST(1 AS INT) AS `1`, -CAST(7 AS INT) AS m, 3000000000 AS big FROM t \
             WHERE k IN (CAST(1 AS INT), CAST(2 AS INT)) GROUP BY 1L ORDER BY 2L LIMIT 5L OFFSET 1L"
        );
        assert_eq!(integers("SELECT -2147483648 AS lowest"), "SELECT CAST(-2147483648 AS INT) AS lowest");
        assert_eq!(
            integers("SELECT sum(v) OVER (ORDER BY 1 ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS s, d + INTERVAL 3 DAY AS e FROM t"),
            "SELECT sum(v) OVER (ORDER BY 1L ROWS BETWEEN 2L PRECEDING AND CURRENT ROW) AS s, d + INTERVAL 3L DAY AS e FROM t"
        );
    }

    #[test]
    fn decimal_shapes_are_spark_s() {
        assert_eq!(decimal_shape("0.1"), Some((1, 1)));
        assert_eq!(decimal_shape("12.50"), Some((4, 2)));
        assert_eq!(decimal_shape("007"), Some((1, 0)));
        assert_eq!(decimal_shape("0"), Some((1, 0)));
    }
}
