//! CNN features in SQL: ONNX Runtime models as batched scalar functions.
//!
//! This crate is the `tensors → features` step of verger:
//! - `image_features(content [, model])` → `FIXED_SIZE_LIST<FLOAT>` feature vectors,
//! - `image_classify(content [, model])` → `struct(label, score)`,
//! - `image_tensor(content [, model])` → the model's input tensor,
//! - `image_info(content)` → `struct(format, width, height, channels)` from headers.
//!
//! Models are registered by name in the session (`SET verger.model.<name>.uri = ...`), so the
//! registration travels with the session to a cluster's executors. Each process loads a model
//! once ([`load_model`]) and runs it on its inference threads (one per core, one ONNX Runtime
//! session each, one intra-op thread per session), where the images of each RecordBatch are
//! decoded, resized and run in mini-batches.

mod batch;
mod error;
mod functions;
mod io;
mod model;
mod onnx_graph;
mod path_rule;
mod pool;
mod read_ahead_rule;
mod runtime;
mod spec;

use datafusion::logical_expr::ScalarUDF;
use std::sync::Arc;

pub use error::FeaturesError;
pub use functions::image_classify::ImageClassify;
pub use functions::image_features::ImageFeatures;
pub use functions::image_info::ImageInfoFunction;
pub use functions::image_tensor::ImageTensor;
pub use model::{LoadedModel, is_model_loaded, load_model, model_loads, preload_when_planning, wait_for_preloads};
pub use path_rule::{ImagePathRule, PATH_RULE_NAME};
pub use pool::{THREADS_ENV, inference_pool, inference_threads, set_inference_threads};
pub use read_ahead_rule::{InferenceReadAheadRule, READ_AHEAD_RULE_NAME};
pub use runtime::{ORT_LIBRARY_ENV, ORT_TELEMETRY_ENV, ORT_WHEEL, onnx_runtime, onnx_runtime_library, opt_out_of_onnx_telemetry};
pub use spec::{MODELS_DIR_ENV, ModelSpec, resolve_model};
pub use verger_tensors::{DecodeLimits, TensorWriter, decode_rgb};

/// verger's image functions.
pub fn image_functions() -> Vec<Arc<ScalarUDF>> {
    vec![
        Arc::new(ScalarUDF::new_from_impl(ImageFeatures::default())),
        Arc::new(ScalarUDF::new_from_impl(ImageClassify::default())),
        Arc::new(ScalarUDF::new_from_impl(ImageTensor::default())),
        Arc::new(ScalarUDF::new_from_impl(ImageInfoFunction::default())),
    ]
}
