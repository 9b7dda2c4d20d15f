//! `vector_to_array(vector [, dtype])`: `pyspark.ml.functions.vector_to_array`.

use super::{SparkVectorColumn, is_spark_vector};
use crate::args::DOC_SECTION;
use crate::vectors::VectorBuilder;
use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};
use std::sync::{Arc, LazyLock};

pub const NAME: &str = "vector_to_array";

/// Spark ML vectors (dense or sparse) → arrays of doubles or floats.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VectorToArray {
    signature: Signature,
}

impl Default for VectorToArray {
    fn default() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION,
        "Converts a Spark ML vector, dense or sparse, into an array (pyspark.ml.functions.vector_to_array): ARRAY<DOUBLE> \
         for dtype 'float64' (the default), ARRAY<FLOAT> for 'float32'. NULL for a NULL vector.",
        "vector_to_array(vector [, dtype])",
    )
    .with_argument("vector", "A Spark ML vector column (from array_to_vector, vector_assemble or a Spark ML transform).")
    .with_argument("dtype", "'float64' or 'float32', a constant.")
    .with_sql_example("SELECT vector_to_array(features, 'float32') FROM scaled")
    .build()
});

fn item_type(dtype: Option<&ScalarValue>) -> Result<DataType> {
    match dtype {
        None => Ok(DataType::Float64),
        Some(ScalarValue::Utf8(Some(s)) | ScalarValue::Utf8View(Some(s)) | ScalarValue::LargeUtf8(Some(s))) => match s.as_str() {
            "float64" => Ok(DataType::Float64),
            "float32" => Ok(DataType::Float32),
            other => plan_err!("{NAME}: unsupported dtype: {other}. Valid values: float64, float32."),
        },
        Some(other) => plan_err!("{NAME}: dtype must be the constant 'float64' or 'float32', got {other}"),
    }
}

fn list_of(item: DataType) -> DataType {
    DataType::List(Arc::new(Field::new_list_field(item, false)))
}

impl ScalarUDFImpl for VectorToArray {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [vector, rest @ ..] if rest.len() <= 1 => {
                if !is_spark_vector(vector) {
                    return plan_err!("{NAME}: the input must be a Spark ML vector (e.g. from array_to_vector), got {vector}");
                }
                let mut coerced = vec![vector.clone()];
                coerced.extend(rest.iter().map(|_| DataType::Utf8));
                Ok(coerced)
            }
            _ => plan_err!("{NAME} takes (vector [, dtype]), got {} arguments", arg_types.len()),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        plan_err!("{NAME}: return_field_from_args is used instead")
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<Arc<Field>> {
        let dtype = args.scalar_arguments.get(1).copied().flatten();
        if args.arg_fields.len() == 2 && dtype.is_none() {
            return plan_err!("{NAME}: dtype must be a constant, 'float64' or 'float32'");
        }
        Ok(Arc::new(Field::new(NAME, list_of(item_type(dtype)?), true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let Some(vector) = args.args.first() else {
            return exec_err!("{NAME} takes (vector [, dtype])");
        };
        let item = match args.return_field.data_type() {
            DataType::List(field) => field.data_type().clone(),
            other => return exec_err!("{NAME}: unexpected return type {other}"),
        };
        let vectors = vector.to_array(args.number_rows)?;
        let column = SparkVectorColumn::try_new(NAME, &vectors)?;
        let mut output = VectorBuilder::new(None, args.number_rows);
        let mut values = Vec::new();
        for row in 0..args.number_rows {
            values.clear();
            if column.extend_dense(row, &mut values)? {
                output.push_with(values.len(), |out| out.copy_from_slice(&values));
            } else {
                output.push_null();
            }
        }
        let doubles = output.finish()?;
        let list = doubles.as_list::<i32>();
        let items: ArrayRef = if item == DataType::Float64 { Arc::clone(list.values()) } else { cast(list.values(), &item)? };
        let array = datafusion::arrow::array::ListArray::try_new(
            Arc::new(Field::new_list_field(item, false)),
            list.offsets().clone(),
            items,
            list.nulls().cloned(),
        )?;
        Ok(ColumnarValue::Array(Arc::new(array)))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}
