//! `image_tensor(content [, model])`: the input tensor a model receives for each image.

use super::common::{DOC_SECTION, ImageArgs, SessionSnapshot, coerce_image_args, planned_model};
use super::image_features::{vector_array, vector_type};
use crate::batch::{Wanted, run_images};
use crate::io::run_blocking;
use crate::spec::resolve_model;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, exec_err};
use datafusion::config::ConfigOptions;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use std::sync::{Arc, LazyLock};

pub const NAME: &str = "image_tensor";

/// The preprocessed model input of each image (decoded, upright, resized, normalised, laid
/// out as the model's registration says), flattened: what `image_features` feeds the model.
/// For checking preprocessing against another pipeline, or feeding a model elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageTensor {
    signature: Signature,
    session: SessionSnapshot,
}

impl Default for ImageTensor {
    fn default() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable), session: SessionSnapshot::default() }
    }
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION,
        "The input tensor of a model for each image, flattened (3 x height x width floats; 150528 for the default model): \
         decoded, turned upright, resized and normalised exactly as image_features does before inference.",
        "image_tensor(content [, model_name])",
    )
    .with_argument("content", "The image bytes.")
    .with_argument("model_name", "A registered model; default: verger.images.default_model.")
    .build()
});

impl ScalarUDFImpl for ImageTensor {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        coerce_image_args(NAME, arg_types, true)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        datafusion::common::internal_err!("{NAME}: return_field_from_args is used")
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let model = planned_model(NAME, args.scalar_arguments, &self.session.verger.default_model)?;
        let spec = resolve_model(&model, &self.session.verger, &self.session.options)?;
        Ok(Arc::new(Field::new(NAME, vector_type(spec.preprocess.tensor_len()), true)))
    }

    fn with_updated_config(&self, config: &ConfigOptions) -> Option<ScalarUDF> {
        Some(ScalarUDF::new_from_impl(Self { signature: self.signature.clone(), session: SessionSnapshot::of(config) }))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let call = ImageArgs::new(NAME, &args, true)?;
        let spec = resolve_model(&call.model, &call.config, &call.options)?;
        let len = spec.preprocess.tensor_len();
        if args.return_field.data_type() != &vector_type(len) {
            return exec_err!(
                "{NAME}: model '{}' takes {len} values, the query was planned for {}",
                call.model,
                args.return_field.data_type()
            );
        }
        let images = call.images()?;
        let rows =
            run_blocking(|| run_images(&spec.preprocess, None, &images, Wanted::Tensor, "", call.limits(), call.config.inference_batch))?;
        let rows = call.settle(NAME, rows)?;
        Ok(ColumnarValue::Array(vector_array(rows, len, NAME)?))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}
