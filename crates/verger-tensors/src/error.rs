use thiserror::Error;

/// Why one image could not become a tensor. Messages are written for the person who owns the
/// file: the SQL functions prefix them with the file's path.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ImageError {
    #[error("the file is empty (0 bytes)")]
    Empty,
    #[error("not a JPEG or PNG image (the first bytes are {0})")]
    UnknownFormat(String),
    #[error("the image has no pixels ({width}x{height})")]
    NoPixels { width: u64, height: u64 },
    #[error(
        "the image is {width}x{height} = {pixels} pixels, over the limit of {limit} (verger.images.max_pixels); refused before decoding"
    )]
    TooManyPixels { width: u64, height: u64, pixels: u64, limit: u64 },
    #[error(
        "the {format} needs more than {allowance} bytes to decode (the allowance of verger.images.max_pixels, its metadata included): a decompression bomb; refused"
    )]
    MemoryLimit { format: &'static str, allowance: u64 },
    #[error("corrupt or truncated {format}: {reason}")]
    Corrupt { format: &'static str, reason: String },
    #[error(
        "the image is {width}x{height}: resizing it to {target_width} pixels wide goes through a {target_width}x{height} = {pixels}-pixel intermediate, over the limit of {limit} (verger.images.max_pixels); refused before resizing"
    )]
    IntermediateTooLarge { width: u32, height: u32, target_width: u32, pixels: u64, limit: u64 },
    #[error("cannot resize the image: {0}")]
    Resize(String),
    #[error("the output buffer holds {actual} values, the tensor needs {expected}")]
    TensorSize { expected: usize, actual: usize },
}

pub type Result<T, E = ImageError> = std::result::Result<T, E>;
