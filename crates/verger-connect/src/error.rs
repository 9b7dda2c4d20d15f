//! The server's errors, and how they reach PySpark: a gRPC status carrying a
//! `google.rpc.ErrorInfo` whose `classes` name the Spark exception class the client raises
//! (AnalysisException, ParseException, …) and whose `errorClass` is Spark's error class.

use datafusion::error::DataFusionError;
use prost::Message;
use std::collections::HashMap;

pub type ConnectResult<T> = Result<T, ConnectError>;

/// What went wrong, by the Spark exception the client should see.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// A name that does not resolve, a wrong type, a missing table: Spark's AnalysisException.
    #[error("{message}")]
    Analysis { message: String, error_class: Option<&'static str> },
    /// SQL, a type name or a schema that does not parse: ParseException.
    #[error("{0}")]
    Parse(String),
    /// Something Spark has and verger does not: says what, and what to use instead.
    #[error("[UNSUPPORTED_FEATURE.VERGER] verger does not support {0}")]
    Unsupported(String),
    /// A message the client should never send (missing fields, bad bytes).
    #[error("invalid Spark Connect request: {0}")]
    Invalid(String),
    /// The session or operation the client names is not (or no longer) known.
    #[error("{message}")]
    Handle { message: String, error_class: &'static str },
    /// A failure while running a query (on a cluster, the executor's own error).
    #[error("{}", job_message(.0))]
    Execution(DataFusionError),
    #[error("[OPERATION_CANCELED] Operation has been cancelled.")]
    Interrupted,
}

impl ConnectError {
    pub fn unsupported(what: impl Into<String>) -> Self {
        Self::Unsupported(what.into())
    }
    pub fn invalid(what: impl Into<String>) -> Self {
        Self::Invalid(what.into())
    }
    pub fn parse(what: impl Into<String>) -> Self {
        Self::Parse(what.into())
    }
    pub fn analysis(message: impl Into<String>) -> Self {
        Self::Analysis { message: message.into(), error_class: None }
    }
}

impl From<DataFusionError> for ConnectError {
    fn from(error: DataFusionError) -> Self {
        classify(error)
    }
}

impl From<datafusion::arrow::error::ArrowError> for ConnectError {
    fn from(error: datafusion::arrow::error::ArrowError) -> Self {
        Self::Execution(DataFusionError::ArrowError(Box::new(error), None))
    }
}

fn job_message(error: &DataFusionError) -> String {
    let text = error.to_string();
    verger_cluster::job_error_message(&text).unwrap_or(text)
}

/// Sorts a DataFusion error into the Spark exception the same mistake raises in Spark.
fn classify(error: DataFusionError) -> ConnectError {
    let root = error.find_root();
    match root {
        DataFusionError::SQL(..) => ConnectError::Parse(format!("[PARSE_SYNTAX_ERROR] {}", root.message())),
        DataFusionError::SchemaError(schema_error, _) => {
            if let datafusion::common::SchemaError::FieldNotFound { field, valid_fields } = schema_error.as_ref() {
                let mut names: Vec<String> = valid_fields.iter().map(|c| format!("`{}`", c.name)).collect();
                names.dedup();
                let mut seen = std::collections::HashSet::new();
                names.retain(|n| seen.insert(n.clone()));
                return ConnectError::Analysis {
                    message: format!(
                        "[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column, variable, or function parameter with name `{}` cannot be resolved. Did you mean one of the following? [{}].",
                        field.name,
                        names.join(", ")
                    ),
                    error_class: Some("UNRESOLVED_COLUMN.WITH_SUGGESTION"),
                };
            }
            let error_class = match schema_error.as_ref() {
                datafusion::common::SchemaError::FieldNotFound { .. } => Some("UNRESOLVED_COLUMN.WITH_SUGGESTION"),
                datafusion::common::SchemaError::AmbiguousReference { .. } => Some("AMBIGUOUS_REFERENCE"),
                datafusion::common::SchemaError::DuplicateQualifiedField { .. }
                | datafusion::common::SchemaError::DuplicateUnqualifiedField { .. } => Some("COLUMN_ALREADY_EXISTS"),
            };
            ConnectError::Analysis { message: root.message().into_owned(), error_class }
        }
        DataFusionError::Plan(message) => {
            let error_class =
                if message.contains("table") && message.contains("not found") { Some("TABLE_OR_VIEW_NOT_FOUND") } else { None };
            ConnectError::Analysis { message: message.clone(), error_class }
        }
        DataFusionError::NotImplemented(message) => ConnectError::Unsupported(message.clone()),
        DataFusionError::ArrowError(arrow, _) => match spark_arithmetic_error(arrow) {
            Some(message) => ConnectError::Execution(DataFusionError::Execution(message)),
            None => ConnectError::Execution(error),
        },
        _ => ConnectError::Execution(error),
    }
}

/// Spark's error class at the start of a message, as `[INVALID_ARRAY_INDEX_IN_ELEMENT_AT] …`.
fn leading_error_class(message: &str) -> Option<&str> {
    let start = message.find('[')?;
    let rest = &message[start + 1..];
    let end = rest.find(']')?;
    let class = &rest[..end];
    (!class.is_empty() && class.chars().all(|c| c.is_ascii_uppercase() || c == '_' || c == '.' || c.is_ascii_digit())).then_some(class)
}

/// Spark's condition for an Arrow kernel's arithmetic failure (an integer `1 div 0`, a
/// constant CAST that overflows while the plan is simplified).
fn spark_arithmetic_error(error: &datafusion::arrow::error::ArrowError) -> Option<String> {
    use datafusion::arrow::error::ArrowError;
    match error {
        ArrowError::DivideByZero => Some(
            "[DIVIDE_BY_ZERO] Division by zero. Use `try_divide` to tolerate divisor being 0 and return NULL instead. If necessary set \"spark.sql.ansi.enabled\" to \"false\" to bypass this error.".to_owned(),
        ),
        ArrowError::ArithmeticOverflow(message) => Some(format!("[ARITHMETIC_OVERFLOW] {message}. Use 'try_' functions to tolerate overflow and return NULL instead.")),
        ArrowError::CastError(message) => {
            let rest = message.strip_prefix("Can't cast value ")?;
            let (value, target) = rest.split_once(" to type ")?;
            Some(format!(
                "[CAST_OVERFLOW] The value {value} of the type \"{}\" cannot be cast to \"{}\" due to an overflow. Use `try_cast` to tolerate overflow and return NULL instead.",
                if value.contains('.') { "DOUBLE" } else { "BIGINT" },
                spark_type_of_arrow_name(target)
            ))
        }
        _ => None,
    }
}

/// Spark's name of an Arrow integer type named in a cast error.
fn spark_type_of_arrow_name(name: &str) -> &str {
    match name {
        "Int8" => "TINYINT",
        "Int16" => "SMALLINT",
        "Int32" => "INT",
        "Int64" => "BIGINT",
        other => other,
    }
}

/// The JVM exception class PySpark maps a Spark error class to.
fn exception_for_error_class(error_class: &str) -> &'static str {
    match error_class.split('.').next().unwrap_or_default() {
        "INVALID_ARRAY_INDEX" | "INVALID_ARRAY_INDEX_IN_ELEMENT_AT" => "java.lang.ArrayIndexOutOfBoundsException",
        "DIVIDE_BY_ZERO" | "ARITHMETIC_OVERFLOW" | "NUMERIC_VALUE_OUT_OF_RANGE" | "CAST_OVERFLOW" => "java.lang.ArithmeticException",
        "CAST_INVALID_INPUT" => "java.lang.NumberFormatException",
        _ => "org.apache.spark.SparkRuntimeException",
    }
}

#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<prost_types::Any>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ErrorInfo {
    #[prost(string, tag = "1")]
    reason: String,
    #[prost(string, tag = "2")]
    domain: String,
    #[prost(map = "string, string", tag = "3")]
    metadata: HashMap<String, String>,
}

/// The longest message sent in a status; gRPC headers have limits of their own.
const MAX_MESSAGE_BYTES: usize = 16 * 1024;

impl ConnectError {
    /// The Spark exception class, its error class and the gRPC code.
    fn spark_classes(&self) -> (Vec<&'static str>, Option<String>, tonic::Code) {
        let analysis = "org.apache.spark.sql.AnalysisException";
        match self {
            Self::Analysis { error_class, message } => {
                let class = error_class.map(str::to_owned).or_else(|| leading_error_class(message).map(str::to_owned));
                (vec![analysis, "org.apache.spark.sql.ExtendedAnalysisException"], class, tonic::Code::InvalidArgument)
            }
            Self::Parse(_) => (
                vec!["org.apache.spark.sql.catalyst.parser.ParseException", analysis],
                Some("PARSE_SYNTAX_ERROR".into()),
                tonic::Code::InvalidArgument,
            ),
            Self::Unsupported(_) => {
                (vec!["java.lang.UnsupportedOperationException"], Some("UNSUPPORTED_FEATURE.VERGER".into()), tonic::Code::Unimplemented)
            }
            Self::Invalid(_) => (vec!["org.apache.spark.sql.connect.common.InvalidPlanInput"], None, tonic::Code::InvalidArgument),
            Self::Handle { error_class, .. } => {
                (vec!["org.apache.spark.SparkSQLException"], Some((*error_class).to_owned()), tonic::Code::FailedPrecondition)
            }
            Self::Interrupted => (vec!["org.apache.spark.SparkException"], Some("OPERATION_CANCELED".into()), tonic::Code::Cancelled),
            Self::Execution(_) => {
                let message = self.to_string();
                match leading_error_class(&message) {
                    Some(class) => (
                        vec![exception_for_error_class(class), "org.apache.spark.SparkException"],
                        Some(class.to_owned()),
                        tonic::Code::Internal,
                    ),
                    None => (vec!["org.apache.spark.SparkException"], None, tonic::Code::Internal),
                }
            }
        }
    }

    /// The gRPC status PySpark turns into this error's exception.
    pub fn to_status(&self) -> tonic::Status {
        let mut message = verger::redact(&self.to_string()).into_owned();
        if message.len() > MAX_MESSAGE_BYTES {
            let mut end = MAX_MESSAGE_BYTES;
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            message.truncate(end);
            message.push_str(" …");
        }
        let (classes, error_class, code) = self.spark_classes();
        let mut metadata = HashMap::new();
        metadata.insert("classes".to_owned(), serde_json::to_string(&classes).unwrap_or_else(|_| "[]".to_owned()));
        if let Some(error_class) = error_class {
            metadata.insert("errorClass".to_owned(), error_class);
        }
        let info =
            ErrorInfo { reason: classes.first().copied().unwrap_or_default().to_owned(), domain: "org.apache.spark".to_owned(), metadata };
        let status = RpcStatus {
            code: code as i32,
            message: message.clone(),
            details: vec![prost_types::Any {
                type_url: "type.googleapis.com/google.rpc.ErrorInfo".to_owned(),
                value: info.encode_to_vec(),
            }],
        };
        tonic::Status::with_details(code, message, status.encode_to_vec().into())
    }
}

impl From<ConnectError> for tonic::Status {
    fn from(error: ConnectError) -> Self {
        error.to_status()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_carry_the_spark_class_the_client_raises() -> Result<(), prost::DecodeError> {
        let status = ConnectError::from(DataFusionError::SQL(
            Box::new(datafusion::sql::sqlparser::parser::ParserError::ParserError("x".into())),
            None,
        ))
        .to_status();
        let decoded = RpcStatus::decode(status.details())?;
        let info = ErrorInfo::decode(decoded.details[0].value.as_slice())?;
        assert!(info.metadata["classes"].contains("ParseException"));
        let execution =
            ConnectError::from(DataFusionError::Execution("[INVALID_ARRAY_INDEX_IN_ELEMENT_AT] The index 5 is out of bounds".into()));
        let (classes, class, _) = execution.spark_classes();
        assert_eq!(classes[0], "java.lang.ArrayIndexOutOfBoundsException");
        assert_eq!(class.as_deref(), Some("INVALID_ARRAY_INDEX_IN_ELEMENT_AT"));
        Ok(())
    }
}
