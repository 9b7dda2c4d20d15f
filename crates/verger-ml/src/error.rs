use datafusion::error::DataFusionError;

/// Errors of the scaler and PCA functions. Each names the SQL function it comes from.
#[derive(Debug, thiserror::Error)]
pub enum MlError {
    #[error("{function}: {message}")]
    Input { function: &'static str, message: String },
    #[error("{function}: the model is not a valid {kind} model: {message}")]
    Model { function: &'static str, kind: &'static str, message: String },
    #[error("{function}: {message}")]
    Fit { function: &'static str, message: String },
    #[error("materialised input: {0}")]
    Materialize(String),
}

impl From<MlError> for DataFusionError {
    fn from(error: MlError) -> Self {
        match error {
            MlError::Materialize(_) => DataFusionError::External(Box::new(error)),
            _ => DataFusionError::Execution(error.to_string()),
        }
    }
}

pub(crate) fn input_error(function: &'static str, message: impl Into<String>) -> DataFusionError {
    MlError::Input { function, message: message.into() }.into()
}

pub(crate) fn fit_error(function: &'static str, message: impl Into<String>) -> DataFusionError {
    MlError::Fit { function, message: message.into() }.into()
}
