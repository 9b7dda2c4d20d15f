//! PCA: `pca_fit` (aggregate) and `pca_transform` (scalar).

mod fit;
mod model;
mod transform;

pub use fit::{Components, PcaFit, fit_components};
pub use model::PcaModel;
pub use transform::PcaTransform;
