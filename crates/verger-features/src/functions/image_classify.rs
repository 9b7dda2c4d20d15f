//! `image_classify(content [, model])`: the top class of each image and its probability.

use super::common::{DOC_SECTION, ImageArgs, SessionSnapshot, coerce_image_args, planned_model};
use crate::batch::{Wanted, run_images};
use crate::io::run_blocking;
use crate::model::{load_model, preload};
use crate::spec::resolve_model;
use datafusion::arrow::array::{ArrayRef, Float32Array, StringArray, StructArray};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields};
use datafusion::common::{Result, exec_err};
use datafusion::config::ConfigOptions;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use std::sync::{Arc, LazyLock};

pub const NAME: &str = "image_classify";

/// The most likely class of each image under a classifier's logits, with its softmax
/// probability: `struct(label STRING, score FLOAT)` — the mobile app's "what fruit is this?".
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageClassify {
    signature: Signature,
    session: SessionSnapshot,
}

impl Default for ImageClassify {
    fn default() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable), session: SessionSnapshot::default() }
    }
}

fn fields() -> Fields {
    Fields::from(vec![Field::new("label", DataType::Utf8, false), Field::new("score", DataType::Float32, false)])
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION,
        "The top-1 class of each image and its softmax probability, as struct(label, score), from a model's logits output \
         and class names (the default model: the 1000 ImageNet classes). Models without class names report 'class_<index>'.",
        "image_classify(content [, model_name])",
    )
    .with_argument("content", "The image bytes.")
    .with_argument("model_name", "A registered model with a logits output; default: verger.images.default_model.")
    .with_sql_example("SELECT path, image_classify(content)['label'] AS label FROM images")
    .build()
});

/// Index and probability of the largest logit.
fn top_class(logits: &[f32]) -> Option<(usize, f32)> {
    let (best, max) = logits
        .iter()
        .copied()
        .enumerate()
        .fold((None, f32::NEG_INFINITY), |(best, max), (i, v)| if v > max { (Some(i), v) } else { (best, max) });
    let best = best?;
    let total: f32 = logits.iter().map(|v| (v - max).exp()).sum();
    Some((best, 1.0 / total))
}

impl ScalarUDFImpl for ImageClassify {
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
        Ok(DataType::Struct(fields()))
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let model = planned_model(NAME, args.scalar_arguments, &self.session.verger.default_model)?;
        preload(&resolve_model(&model, &self.session.verger, &self.session.options)?, &self.session.options);
        Ok(Arc::new(Field::new(NAME, DataType::Struct(fields()), true)))
    }

    fn with_updated_config(&self, config: &ConfigOptions) -> Option<ScalarUDF> {
        Some(ScalarUDF::new_from_impl(Self { signature: self.signature.clone(), session: SessionSnapshot::of(config) }))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let call = ImageArgs::new(NAME, &args, true)?;
        let spec = resolve_model(&call.model, &call.config, &call.options)?;
        let model = load_model(&spec, &call.options)?;
        let Some((output, _)) = model.logits.clone() else {
            return exec_err!("{NAME}: model '{}' has no logits output (SET verger.model.{}.logits_output)", call.model, call.model);
        };
        let images = call.images()?;
        let rows = run_blocking(|| {
            run_images(&spec.preprocess, Some(&model), &images, Wanted::Output, &output, call.limits(), call.config.inference_batch)
        })?;
        let rows = call.settle(NAME, rows)?;
        let mut labels = Vec::with_capacity(rows.len());
        let mut scores = Vec::with_capacity(rows.len());
        let mut valid = Vec::with_capacity(rows.len());
        for row in rows {
            match row.as_deref().and_then(top_class) {
                Some((index, score)) => {
                    let label = model.classes.as_ref().and_then(|c| c.get(index)).cloned().unwrap_or_else(|| format!("class_{index}"));
                    labels.push(label);
                    scores.push(score);
                    valid.push(true);
                }
                None => {
                    labels.push(String::new());
                    scores.push(0.0);
                    valid.push(false);
                }
            }
        }
        let columns: Vec<ArrayRef> = vec![Arc::new(StringArray::from(labels)), Arc::new(Float32Array::from(scores))];
        let nulls = valid.iter().any(|v| !v).then(|| NullBuffer::from(valid));
        Ok(ColumnarValue::Array(Arc::new(StructArray::try_new(fields(), columns, nulls)?)))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

#[cfg(test)]
mod tests {
    use super::top_class;

    #[test]
    fn softmax_of_the_top_logit() {
        let (index, score) = top_class(&[1.0, 3.0, 2.0]).unwrap_or_default();
        assert_eq!(index, 1);
        let expected = 1.0 / (1.0 + (-1.0f32).exp() + (-2.0f32).exp());
        assert!((score - expected).abs() < 1e-6);
        assert_eq!(top_class(&[]), None);
    }
}
