use datafusion::error::DataFusionError;
use thiserror::Error;

/// Errors of models and inference (per-image decoding errors are `verger_tensors::ImageError`).
#[derive(Debug, Error)]
pub enum FeaturesError {
    #[error("{0}")]
    RuntimeMissing(String),
    #[error("ONNX Runtime: {0}")]
    Runtime(String),
    #[error("model '{model}': {reason}")]
    Model { model: String, reason: String },
    #[error("cannot read {uri}: {reason}")]
    Read { uri: String, reason: String },
}

impl FeaturesError {
    pub(crate) fn model(model: &str, reason: impl std::fmt::Display) -> Self {
        FeaturesError::Model { model: model.to_owned(), reason: reason.to_string() }
    }
}

impl From<FeaturesError> for DataFusionError {
    // A plain message: Ballista reports task errors with Debug, and the message must read the
    // same embedded and on a cluster.
    fn from(error: FeaturesError) -> Self {
        DataFusionError::Execution(error.to_string())
    }
}

pub type Result<T, E = FeaturesError> = std::result::Result<T, E>;
