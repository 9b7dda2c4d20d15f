//! verger's image functions, one per file.

mod common;
pub mod image_classify;
pub mod image_features;
pub mod image_info;
pub mod image_tensor;

/// The functions that take a model name as second argument.
pub(crate) const MODEL_FUNCTIONS: &[&str] = &[image_features::NAME, image_classify::NAME, image_tensor::NAME];
/// All image functions.
pub(crate) const IMAGE_FUNCTIONS: &[&str] = &[image_features::NAME, image_classify::NAME, image_tensor::NAME, image_info::NAME];
