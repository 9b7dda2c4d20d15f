use datafusion::error::DataFusionError;

/// Errors of the committed Parquet output. Each says which output it is about.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The statement cannot be planned as a committed write.
    #[error("COPY TO {location}: {message}")]
    Plan { location: String, message: String },
    /// Writing a part failed; nothing is committed.
    #[error("writing {location}: {message}")]
    Write { location: String, message: String },
    /// The commit failed; `_SUCCESS` is not written.
    #[error("committing {location}: {message}")]
    Commit { location: String, message: String },
}

impl From<OutputError> for DataFusionError {
    fn from(error: OutputError) -> Self {
        match error {
            OutputError::Plan { .. } => DataFusionError::Plan(error.to_string()),
            _ => DataFusionError::External(Box::new(error)),
        }
    }
}

pub(crate) fn plan_error(location: impl Into<String>, message: impl Into<String>) -> DataFusionError {
    OutputError::Plan { location: location.into(), message: message.into() }.into()
}

pub(crate) fn write_error(location: impl Into<String>, message: impl Into<String>) -> DataFusionError {
    OutputError::Write { location: location.into(), message: message.into() }.into()
}

pub(crate) fn commit_error(location: impl Into<String>, message: impl Into<String>) -> DataFusionError {
    OutputError::Commit { location: location.into(), message: message.into() }.into()
}
