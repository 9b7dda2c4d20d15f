use datafusion::error::DataFusionError;

/// Errors of the report, each naming the output it is about.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{output}: {message}")]
    Output { output: String, message: String },
    #[error("plot {path}: {message}")]
    Plot { path: String, message: String },
}

impl From<ReportError> for DataFusionError {
    fn from(error: ReportError) -> Self {
        DataFusionError::External(Box::new(error))
    }
}

pub(crate) fn output_error(output: &str, message: impl Into<String>) -> DataFusionError {
    ReportError::Output { output: output.to_owned(), message: message.into() }.into()
}

pub(crate) fn plot_error(path: &str, message: impl Into<String>) -> DataFusionError {
    ReportError::Plot { path: path.to_owned(), message: message.into() }.into()
}
