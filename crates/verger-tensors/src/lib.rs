//! From image bytes to model input tensors.
//!
//! This crate is the `rows → tensors` step of verger: it decodes JPEG and PNG (`decode`),
//! reads their headers alone (`info`) and turns a decoded
//! image into a normalised float tensor laid out for a model (`preprocess`). Everything is
//! synchronous and allocation-bounded: a file's header is checked against a pixel limit before
//! any pixel buffer exists, so a small file claiming 50000×50000 pixels costs nothing.

mod decode;
mod error;
mod info;
mod preprocess;

pub use decode::{DEFAULT_MAX_PIXELS, DecodeLimits, decode_rgb};
pub use error::{ImageError, Result};
pub use info::{ImageFormat, ImageInfo, image_info};
pub use preprocess::{Layout, Preprocess, ResizeMode, TensorWriter};
