//! `spark.sql(…)`: Spark SQL on the session. The session parses with Spark's dialect (see
//! `session::speak_spark_sql`); what DataFusion parses but cannot plan is rewritten on the
//! syntax tree first: `a DIV b` becomes verger's `spark_div(a, b)`.

use crate::error::ConnectResult;
use datafusion::dataframe::DataFrame;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement;
use datafusion::sql::sqlparser::ast::{
    self, BinaryOperator, FunctionArg, FunctionArgExpr, FunctionArgumentList, FunctionArguments, Ident, ObjectName, ObjectNamePart,
    visit_expressions_mut,
};
use std::ops::ControlFlow;

/// `query` planned and, for DDL, run, as `SessionContext::sql` does.
pub async fn spark_sql(ctx: &SessionContext, query: &str) -> ConnectResult<DataFrame> {
    let state = ctx.state();
    let dialect = state.config().options().sql_parser.dialect;
    let mut statement = state.sql_to_statement(query, &dialect)?;
    rewrite_integer_division(&mut statement);
    let plan = state.statement_to_plan(statement).await?;
    Ok(ctx.execute_logical_plan(plan).await?)
}

fn rewrite_integer_division(statement: &mut Statement) {
    let inner: &mut ast::Statement = match statement {
        Statement::Statement(inner) => inner,
        Statement::Explain(explain) => match explain.statement.as_mut() {
            Statement::Statement(inner) => inner,
            _ => return,
        },
        _ => return,
    };
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
