//! Spark's SQL type names on the syntax tree, for sessions that speak Spark SQL: Spark's
//! `TIMESTAMP` is a point in time shown in the session time zone (`TIMESTAMP_LTZ`), where
//! DataFusion's is a wall-clock time without a zone; `TIMESTAMP_NTZ`, which DataFusion does not
//! parse, is that wall-clock time. Both have Spark's microseconds.

use datafusion::sql::sqlparser::ast::{DataType as SqlDataType, Expr as SqlExpr, TimezoneInfo, TypedString, VisitMut, VisitorMut};
use std::ops::ControlFlow;

/// Rewrites the type names of the casts and typed literals (`TIMESTAMP '2024-01-01 00:00:00'`)
/// under `node` to Spark's meaning. DataFusion gives `TIMESTAMP WITH TIME ZONE` the session's
/// `datafusion.execution.time_zone`, which a Spark session sets from
/// `spark.sql.session.timeZone`.
pub fn spark_type_names<V: VisitMut>(node: &mut V) {
    let _ = node.visit(&mut TypeNames);
}

struct TypeNames;

fn spark_type(data_type: &mut SqlDataType) {
    let microseconds = Some(6);
    match data_type {
        SqlDataType::Timestamp(None, TimezoneInfo::None) => *data_type = SqlDataType::Timestamp(microseconds, TimezoneInfo::WithTimeZone),
        SqlDataType::TimestampNtz(None) => *data_type = SqlDataType::Timestamp(microseconds, TimezoneInfo::None),
        SqlDataType::Custom(name, modifiers) if modifiers.is_empty() && name.to_string().eq_ignore_ascii_case("timestamp_ltz") => {
            *data_type = SqlDataType::Timestamp(microseconds, TimezoneInfo::WithTimeZone)
        }
        SqlDataType::Array(datafusion::sql::sqlparser::ast::ArrayElemTypeDef::AngleBracket(inner)) => spark_type(inner),
        _ => {}
    }
}

impl VisitorMut for TypeNames {
    type Break = ();

    fn post_visit_expr(&mut self, expr: &mut SqlExpr) -> ControlFlow<()> {
        match expr {
            SqlExpr::Cast { data_type, .. } | SqlExpr::TypedString(TypedString { data_type, .. }) => spark_type(data_type),
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::SparkSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    #[test]
    fn timestamps_are_spark_s() {
        let sql = "SELECT TIMESTAMP '2024-01-01 00:00:00', CAST(s AS TIMESTAMP_NTZ), CAST(s AS TIMESTAMP_LTZ), CAST(d AS DATE) FROM t";
        let mut statements = Parser::parse_sql(&SparkSqlDialect {}, sql).unwrap_or_default();
        statements.iter_mut().for_each(spark_type_names);
        let rewritten: Vec<String> = statements.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            rewritten,
            ["SELECT TIMESTAMP(6) WITH TIME ZONE '2024-01-01 00:00:00', CAST(s AS TIMESTAMP(6)), \
              CAST(s AS TIMESTAMP(6) WITH TIME ZONE), CAST(d AS DATE) FROM t"]
        );
    }
}
