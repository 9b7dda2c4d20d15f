//! StandardScaler: `standard_scaler_fit` (aggregate) and `standard_scale` (scalar).

mod fit;
mod model;
mod transform;

pub use fit::StandardScalerFit;
pub use model::ScalerModel;
pub use transform::StandardScale;
