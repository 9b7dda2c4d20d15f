use datafusion::error::DataFusionError;

/// Errors of the binaryFile source. Each names the file or option at fault.
#[derive(Debug, thiserror::Error)]
pub enum BinaryFileError {
    #[error("unknown binaryFile option '{0}'; known options: pathGlobFilter, recursiveFileLookup, modifiedBefore, modifiedAfter")]
    UnknownOption(String),

    #[error("binaryFile option {option} = '{value}' is invalid: {reason}")]
    InvalidOption { option: &'static str, value: String, reason: String },

    #[error("[PATH_NOT_FOUND] Path does not exist: {0}")]
    PathNotFound(String),

    #[error("Conflicting directory structures detected. Suspicious paths:\n\t{}\nIf provided paths are partition directories, please set \"basePath\" in the options of the data source to specify the root directory of the table. If there are multiple root directories, please load them separately and then union them.", .0.join("\n\t"))]
    ConflictingDirectoryStructures(Vec<String>),

    #[error("Conflicting partition column names detected:\n\t{}\nFor partitioned table directories, data files should only live in leaf directories.\nAnd directories at the same level should have the same partition column name.", .0.join("\n\t"))]
    ConflictingPartitionColumns(Vec<String>),

    #[error("The length of {path} is {length}, which exceeds the max length allowed: {max_length} (verger.binary_file.max_length).")]
    FileTooLong { path: String, length: u64, max_length: u64 },

    #[error("could not list {location}: {source}")]
    List { location: String, source: object_store::Error },

    #[error("could not read {path}: {source}")]
    Read { path: String, source: object_store::Error },

    #[error("could not decode a binaryFile plan: {0}")]
    Codec(String),
}

/// Carried as text: Ballista reports a failed task with the error's `Debug` form, in which
/// a message string reads as well as it does here.
impl From<BinaryFileError> for DataFusionError {
    fn from(error: BinaryFileError) -> Self {
        DataFusionError::Execution(error.to_string())
    }
}
