//! `image_info(content)`: format, size and channels from the image's header.

use super::common::{DOC_SECTION, ImageArgs, coerce_image_args};
use crate::io::run_blocking;
use datafusion::arrow::array::{ArrayRef, Int32Array, StringArray, StructArray};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::common::Result;
use datafusion::logical_expr::{ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};
use std::sync::{Arc, LazyLock};
use verger_tensors::image_info;

pub const NAME: &str = "image_info";

/// `struct(format STRING, width INT, height INT, channels INT)` read from the header only:
/// no pixel is decoded. Width and height are as displayed (EXIF orientation applied).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageInfoFunction {
    signature: Signature,
}

impl Default for ImageInfoFunction {
    fn default() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

fn fields() -> Fields {
    Fields::from(vec![
        Field::new("format", DataType::Utf8, false),
        Field::new("width", DataType::Int32, false),
        Field::new("height", DataType::Int32, false),
        Field::new("channels", DataType::Int32, false),
    ])
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION,
        "The format ('jpeg' or 'png'), displayed width and height (after EXIF orientation) and stored channels \
         (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA or CMYK) of each image, read from its header without decoding pixels.",
        "image_info(content)",
    )
    .with_argument("content", "The image bytes.")
    .with_sql_example("SELECT image_info(content)['width'] AS width, count(*) FROM images GROUP BY 1")
    .build()
});

impl ScalarUDFImpl for ImageInfoFunction {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        coerce_image_args(NAME, arg_types, false)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(fields()))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let call = ImageArgs::new(NAME, &args, false)?;
        let images = call.images()?;
        let infos = run_blocking(|| images.iter().map(|image| image.map(image_info).transpose()).collect::<Vec<_>>());
        let infos = call.settle(NAME, infos)?;
        let len = infos.len();
        let (mut formats, mut widths, mut heights, mut channels, mut valid) =
            (Vec::with_capacity(len), Vec::with_capacity(len), Vec::with_capacity(len), Vec::with_capacity(len), Vec::with_capacity(len));
        for info in infos {
            valid.push(info.is_some());
            formats.push(info.map(|i| i.format.name()).unwrap_or(""));
            widths.push(info.map(|i| i.width as i32).unwrap_or(0));
            heights.push(info.map(|i| i.height as i32).unwrap_or(0));
            channels.push(info.map(|i| i32::from(i.channels)).unwrap_or(0));
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(formats)),
            Arc::new(Int32Array::from(widths)),
            Arc::new(Int32Array::from(heights)),
            Arc::new(Int32Array::from(channels)),
        ];
        let nulls = valid.iter().any(|v| !v).then(|| NullBuffer::from(valid));
        Ok(ColumnarValue::Array(Arc::new(StructArray::try_new(fields(), columns, nulls)?)))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}
