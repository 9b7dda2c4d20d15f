use datafusion::error::DataFusionError;

/// Errors of the storage layer. Messages never contain credentials.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("invalid location '{location}': {reason}")]
    InvalidLocation { location: String, reason: String },

    #[error("unsupported storage scheme '{scheme}' in '{location}' (verger reads local paths, file:, s3: and s3a:)")]
    UnsupportedScheme { scheme: String, location: String },

    #[error("invalid S3 setting {key} = '{value}': {reason}")]
    InvalidSetting { key: String, value: String, reason: String },

    #[error("could not read AWS profile '{profile}' from {file}: {reason}")]
    Profile { profile: String, file: String, reason: String },

    #[error("could not configure S3 for bucket '{bucket}': {source}")]
    S3Config { bucket: String, source: object_store::Error },
}

/// Carried as text, which reads the same through Ballista's error reports.
impl From<StorageError> for DataFusionError {
    fn from(error: StorageError) -> Self {
        DataFusionError::Execution(error.to_string())
    }
}
