//! `image_features(content [, model])`: a CNN's feature vector of each image.

use super::common::{DOC_SECTION, ImageArgs, SessionSnapshot, coerce_image_args, planned_model};
use crate::batch::{Wanted, run_images};
use crate::io::run_blocking;
use crate::model::{load_model, preload};
use crate::onnx_graph::declared_features_dim;
use crate::spec::resolve_model;
use datafusion::arrow::array::{ArrayRef, FixedSizeListArray, Float32Array};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, exec_err};
use datafusion::config::ConfigOptions;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use std::sync::{Arc, LazyLock};

pub const NAME: &str = "image_features";

/// `image_features(content)` runs the default model (`verger.images.default_model`,
/// EfficientNet-Lite0 unless set) on each image and returns its feature vector as a
/// `FIXED_SIZE_LIST<FLOAT>` (1280 values for the default model); `image_features(content,
/// 'name')` runs a model registered with `SET verger.model.<name>.uri = ...`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageFeatures {
    signature: Signature,
    session: SessionSnapshot,
}

impl Default for ImageFeatures {
    fn default() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable), session: SessionSnapshot::default() }
    }
}

pub(crate) fn vector_type(dim: usize) -> DataType {
    DataType::FixedSizeList(Arc::new(Field::new_list_field(DataType::Float32, false)), dim as i32)
}

/// Rows of equal-length vectors (None = NULL) as a FixedSizeList array.
pub(crate) fn vector_array(rows: Vec<Option<Vec<f32>>>, dim: usize, function: &str) -> Result<ArrayRef> {
    let mut values = Vec::with_capacity(rows.len() * dim);
    let mut valid = Vec::with_capacity(rows.len());
    for row in &rows {
        match row {
            Some(vector) if vector.len() == dim => {
                values.extend_from_slice(vector);
                valid.push(true);
            }
            Some(vector) => return exec_err!("{function}: the model gave {} values, the query planned for {dim}", vector.len()),
            None => {
                values.extend(std::iter::repeat_n(0.0, dim));
                valid.push(false);
            }
        }
    }
    let field = Arc::new(Field::new_list_field(DataType::Float32, false));
    let nulls = valid.iter().any(|v| !v).then(|| NullBuffer::from(valid));
    Ok(Arc::new(FixedSizeListArray::try_new(field, dim as i32, Arc::new(Float32Array::from(values)), nulls)?))
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION,
        "The feature vector of each image from a pretrained CNN run by ONNX Runtime (the default model is EfficientNet-Lite0, \
         ImageNet weights, 1280 values). Images are decoded (JPEG, PNG), turned upright, resized and normalised as the model's \
         registration says, in mini-batches of verger.features.batch_size on one thread per core. Unreadable images fail the \
         query, naming the file, or give NULL under SET verger.images.on_error = 'null'.",
        "image_features(content [, model_name])",
    )
    .with_argument("content", "The image bytes, e.g. the content column of a binaryFile table.")
    .with_argument("model_name", "A model registered with SET verger.model.<name>.uri = '...'; default: verger.images.default_model.")
    .with_sql_example("SELECT element_at(split(path, '/'), -2) AS label, image_features(content) AS features FROM images")
    .build()
});

impl ScalarUDFImpl for ImageFeatures {
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
        preload(&spec, &self.session.options);
        // Declared by the registration or descriptor, else read from the graph's signature:
        // planning never starts ONNX Runtime (clients and schedulers do not run models).
        let dim = match spec.features_dim {
            Some(dim) => dim,
            None => declared_features_dim(&spec, &self.session.options)?,
        };
        Ok(Arc::new(Field::new(NAME, vector_type(dim), true)))
    }

    fn with_updated_config(&self, config: &ConfigOptions) -> Option<ScalarUDF> {
        Some(ScalarUDF::new_from_impl(Self { signature: self.signature.clone(), session: SessionSnapshot::of(config) }))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let DataType::FixedSizeList(_, planned_dim) = args.return_field.data_type().clone() else {
            return exec_err!("{NAME}: unexpected return type {}", args.return_field.data_type());
        };
        let call = ImageArgs::new(NAME, &args, true)?;
        let spec = resolve_model(&call.model, &call.config, &call.options)?;
        let model = load_model(&spec, &call.options)?;
        let Some((output, dim)) = model.features.clone() else {
            return exec_err!("{NAME}: model '{}' has no features output", call.model);
        };
        if dim != planned_dim as usize {
            return exec_err!("{NAME}: model '{}' gives {dim} values, the query was planned for {planned_dim}", call.model);
        }
        let images = call.images()?;
        let rows = run_blocking(|| {
            run_images(&spec.preprocess, Some(&model), &images, Wanted::Output, &output, call.limits(), call.config.inference_batch)
        })?;
        let rows = call.settle(NAME, rows)?;
        Ok(ColumnarValue::Array(vector_array(rows, dim, NAME)?))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::is_model_loaded;
    use datafusion::common::ScalarValue;
    use datafusion::config::ExtensionOptions;
    use verger_config::VergerConfig;

    /// A client or scheduler plans `image_features` over a bare `.onnx` file (no descriptor,
    /// no features_dim): the width comes from the graph's signature and no model is loaded.
    #[test]
    fn planning_a_bare_onnx_model_reads_its_width_without_loading_it() -> std::result::Result<(), Box<dyn std::error::Error>> {
        let default = resolve_model(verger_config::DEFAULT_MODEL, &VergerConfig::default(), &ConfigOptions::new())?;
        let mut verger = VergerConfig::default();
        verger.set("model.bare_planning.uri", &default.model_uri)?;
        let mut options = ConfigOptions::new();
        options.extensions.insert(verger.clone());
        let function = ImageFeatures::default().with_updated_config(&options).ok_or("no function")?;

        let fields = [Arc::new(Field::new("content", DataType::Binary, true)), Arc::new(Field::new("model", DataType::Utf8, false))];
        let model = ScalarValue::Utf8(Some("bare_planning".to_owned()));
        let field = function.return_field_from_args(ReturnFieldArgs { arg_fields: &fields, scalar_arguments: &[None, Some(&model)] })?;
        assert_eq!(field.data_type(), &vector_type(1280));

        let spec = resolve_model("bare_planning", &verger, &options)?;
        assert_eq!(spec.features_dim, None, "nothing declares the width");
        assert!(!is_model_loaded(&spec), "planning loaded the model into ONNX Runtime");
        Ok(())
    }
}
