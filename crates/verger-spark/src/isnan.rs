use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::{ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};
use std::sync::{Arc, LazyLock};

/// Spark's `isnan(expr)`: true for NaN, false for any other number and for NULL (Spark's
/// `isnan` is never NULL; DataFusion's gives NULL for NULL).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct IsNan {
    signature: Signature,
}

impl IsNan {
    pub fn new() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

impl Default for IsNan {
    fn default() -> Self {
        Self::new()
    }
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        datafusion::logical_expr::DocSection { include: true, label: "Spark Functions", description: None },
        "Whether a number is NaN; false for NULL (Spark's isnan).",
        "isnan(expr)",
    )
    .with_sql_example("SELECT isnan(CAST('NaN' AS DOUBLE)), isnan(NULL); -- true, false")
    .with_argument("expr", "A number")
    .build()
});

impl ScalarUDFImpl for IsNan {
    fn name(&self) -> &str {
        "isnan"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [t] if t.is_numeric() || t.is_null() => Ok(vec![DataType::Float64]),
            [t] => plan_err!("isnan: the argument must be a number, got {t}"),
            _ => plan_err!("isnan takes one argument, got {}", arg_types.len()),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn return_field_from_args(&self, _args: ReturnFieldArgs) -> Result<FieldRef> {
        Ok(Arc::new(Field::new(self.name(), DataType::Boolean, false)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        match &args.args[..] {
            [ColumnarValue::Scalar(value)] => {
                let nan = matches!(value.cast_to(&DataType::Float64)?, ScalarValue::Float64(Some(v)) if v.is_nan());
                Ok(ColumnarValue::Scalar(ScalarValue::Boolean(Some(nan))))
            }
            [ColumnarValue::Array(values)] => {
                let values = cast(values, &DataType::Float64)?;
                let values = values.as_primitive::<Float64Type>();
                let nan: BooleanArray = (0..values.len()).map(|i| Some(values.is_valid(i) && values.value(i).is_nan())).collect();
                Ok(ColumnarValue::Array(Arc::new(nan) as ArrayRef))
            }
            _ => datafusion::common::exec_err!("isnan takes one argument, got {}", args.args.len()),
        }
    }
}
