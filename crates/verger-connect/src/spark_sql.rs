//! `spark.sql(…)`: Spark SQL on the session. The session parses with Spark's dialect (see
//! `session::speak_spark_sql`); what DataFusion parses but cannot plan is rewritten on the
//! syntax tree first: `a DIV b` becomes verger's `spark_div(a, b)`, `explode(xs)` in a select
//! list `unnest(xs) AS col` (see `verger_spark::spark_generators`). Numbers take Spark's types
//! (`1` INT, `1L` BIGINT, `0.5` DECIMAL, `0.5D` DOUBLE; see `verger_spark::spark_numeric_suffixes`).
//! SQL expressions in the DataFrame API (`F.expr`) get the same treatment.

use crate::error::{ConnectError, ConnectResult};
use datafusion::common::DFSchema;
use datafusion::dataframe::DataFrame;
use datafusion::logical_expr::Expr;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement;
use datafusion::sql::sqlparser::ast::{
    self, BinaryOperator, FunctionArg, FunctionArgExpr, FunctionArgumentList, FunctionArguments, Ident, ObjectName, ObjectNamePart,
    VisitMut, visit_expressions_mut,
};
use datafusion::sql::sqlparser::dialect::SparkSqlDialect;
use std::ops::ControlFlow;

/// `query` planned and, for DDL, run, as `SessionContext::sql` does.
pub async fn spark_sql(ctx: &SessionContext, query: &str) -> ConnectResult<DataFrame> {
    let statement = parse(ctx, query)?;
    let plan = ctx.state().statement_to_plan(statement).await.map_err(explode_of_a_map)?;
    Ok(ctx.execute_logical_plan(plan).await?)
}

/// `explode(m)` of a map in SQL text becomes `unnest(m)`, which takes no map: say so by name.
fn explode_of_a_map(error: datafusion::error::DataFusionError) -> ConnectError {
    if error.to_string().contains("unnest() can only be applied to array") {
        ConnectError::unsupported(
            "explode of a map in SQL text; the DataFrame API's F.explode(m) gives its key and value columns, or explode map_keys(m) / map_values(m)",
        )
    } else {
        error.into()
    }
}

/// `query` parsed as Spark SQL: Spark's numeric literals, `DIV` as `spark_div`.
pub fn parse(ctx: &SessionContext, query: &str) -> ConnectResult<Statement> {
    let state = ctx.state();
    let dialect = state.config().options().sql_parser.dialect;
    let query = verger_spark::spark_numeric_suffixes(query, &SparkSqlDialect {})?;
    let mut statement = state.sql_to_statement(&query, &dialect)?;
    let inner = match &mut statement {
        Statement::Statement(inner) => Some(inner.as_mut()),
        Statement::Explain(explain) => match explain.statement.as_mut() {
            Statement::Statement(inner) => Some(inner.as_mut()),
            _ => None,
        },
        _ => None,
    };
    if let Some(inner) = inner {
        rewrite_integer_division(inner);
        // `SET k = 1` and the like take their numbers as they are.
        if matches!(
            inner,
            ast::Statement::Query(_) | ast::Statement::Insert(_) | ast::Statement::CreateView(_) | ast::Statement::CreateTable(_)
        ) {
            verger_spark::spark_generators(inner)?;
            verger_spark::spark_integer_literals(inner);
        }
        verger_spark::spark_type_names(inner);
    }
    Ok(statement)
}

/// A SQL expression (`F.expr`, `selectExpr`, `filter("…")`) planned against `schema` as Spark
/// SQL, as [`parse`] does for statements.
pub fn spark_sql_expr(ctx: &SessionContext, text: &str, schema: &DFSchema) -> ConnectResult<Expr> {
    let state = ctx.state();
    let dialect = state.config().options().sql_parser.dialect;
    let text = verger_spark::spark_numeric_suffixes(text, &SparkSqlDialect {})?;
    let mut expr = state.sql_to_expr_with_alias(&text, &dialect)?;
    rewrite_integer_division(&mut expr.expr);
    verger_spark::spark_integer_literals(&mut expr.expr);
    verger_spark::spark_type_names(&mut expr.expr);
    Ok(state.create_logical_expr_from_sql_expr(expr, schema)?)
}

fn rewrite_integer_division<V: VisitMut>(inner: &mut V) {
    let _ = visit_expressions_mut(inner, |expr| {
        if let ast::Expr::BinaryOp { op: BinaryOperator::MyIntegerDivide, left, right } = expr {
            let argument = |e: &ast::Expr| FunctionArg::Unnamed(FunctionArgExpr::Expr(e.clone()));
            *expr = ast::Expr::Function(ast::Function {
                name: ObjectName(vec![ObjectNamePart::Identifier(Ident::new("spark_div"))]),
                uses_odbc_syntax: false,
                parameters: FunctionArguments::None,
                args: FunctionArguments::List(FunctionArgumentList {
                    duplicate_treatment: None,
                    args: vec![argument(left), argument(right)],
                    clauses: vec![],
                }),
                filter: None,
                null_treatment: None,
                over: None,
                within_group: vec![],
            });
        }
        ControlFlow::<()>::Continue(())
    });
}
