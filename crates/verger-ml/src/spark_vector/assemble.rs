//! `vector_assemble(handle_invalid, column, …)`: Spark's `VectorAssembler`.

use super::{SparkVectorBuilder, SparkVectorColumn, is_spark_vector, spark_vector_type};
use crate::args::DOC_SECTION;
use crate::error::input_error;
use crate::vectors::{VectorColumn, coerce_vector_type};
use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};
use std::sync::LazyLock;

pub const NAME: &str = "vector_assemble";

/// Numbers, vectors and arrays of numbers → one Spark ML vector per row.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VectorAssemble {
    signature: Signature,
}

impl Default for VectorAssemble {
    fn default() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION,
        "Concatenates numbers, booleans (0 or 1), Spark ML vectors and arrays of numbers into one Spark ML vector per row, \
         as Spark's VectorAssembler: sparse when mostly zeros, dense otherwise. With handle_invalid 'error' a NULL input \
         is an error; with 'keep' a NULL number becomes NaN (a NULL vector is still an error: its size is unknown). \
         NaN values pass through. Spark's 'skip' drops the rows instead: filter them before assembling.",
        "vector_assemble(handle_invalid, column [, column …])",
    )
    .with_argument("handle_invalid", "'error' or 'keep', a constant.")
    .with_argument("column", "A number, a boolean, a Spark ML vector or an array of numbers.")
    .with_sql_example("SELECT vector_assemble('error', weight, array_to_vector(image_features(content))) FROM images")
    .build()
});

#[derive(Clone, Copy, PartialEq, Eq)]
enum Invalid {
    Error,
    Keep,
}

fn handle_invalid(value: &ColumnarValue) -> Result<Invalid> {
    match value {
        ColumnarValue::Scalar(ScalarValue::Utf8(Some(s)) | ScalarValue::Utf8View(Some(s)) | ScalarValue::LargeUtf8(Some(s))) => {
            match s.as_str() {
                "error" => Ok(Invalid::Error),
                "keep" => Ok(Invalid::Keep),
                "skip" => exec_err!("{NAME}: handle_invalid 'skip' drops rows, which a function cannot: filter NULL and NaN inputs first"),
                other => exec_err!("{NAME}: handle_invalid must be 'error' or 'keep', got '{other}'"),
            }
        }
        _ => exec_err!("{NAME}: handle_invalid must be the constant 'error' or 'keep'"),
    }
}

enum Input<'a> {
    Number(&'a datafusion::arrow::array::Float64Array),
    Vector(SparkVectorColumn<'a>),
    Array(VectorColumn<'a>),
}

impl ScalarUDFImpl for VectorAssemble {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let Some((_, columns)) = arg_types.split_first().filter(|(_, columns)| !columns.is_empty()) else {
            return plan_err!("{NAME} takes (handle_invalid, column [, column …])");
        };
        let mut coerced = vec![DataType::Utf8];
        for (position, column) in columns.iter().enumerate() {
            coerced.push(match column {
                t if is_spark_vector(t) => t.clone(),
                t if t.is_numeric() || matches!(t, DataType::Boolean | DataType::Null) => DataType::Float64,
                t => match coerce_vector_type(t) {
                    Some(array) => array,
                    None => {
                        return plan_err!(
                            "{NAME}: column {} has the type {t}; it takes numbers, booleans, Spark ML vectors and arrays of numbers",
                            position + 1
                        );
                    }
                },
            });
        }
        Ok(coerced)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(spark_vector_type())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let Some((mode, columns)) = args.args.split_first() else {
            return exec_err!("{NAME} takes (handle_invalid, column [, column …])");
        };
        let mode = handle_invalid(mode)?;
        let rows = args.number_rows;
        let arrays = columns.iter().map(|c| c.to_array(rows)).collect::<Result<Vec<ArrayRef>>>()?;
        let inputs = arrays
            .iter()
            .map(|array| {
                Ok(match array.data_type() {
                    DataType::Float64 => Input::Number(array.as_primitive::<Float64Type>()),
                    t if is_spark_vector(t) => Input::Vector(SparkVectorColumn::try_new(NAME, array)?),
                    _ => Input::Array(VectorColumn::try_new(NAME, array)?),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let mut output = SparkVectorBuilder::with_capacity(rows);
        let mut values = Vec::new();
        for row in 0..rows {
            values.clear();
            for (position, input) in inputs.iter().enumerate() {
                let present = match input {
                    Input::Number(numbers) if numbers.is_valid(row) => {
                        values.push(numbers.value(row));
                        true
                    }
                    Input::Number(_) if mode == Invalid::Keep => {
                        values.push(f64::NAN);
                        true
                    }
                    Input::Number(_) => false,
                    Input::Vector(vectors) => vectors.extend_dense(row, &mut values)?,
                    Input::Array(arrays) => match arrays.get(row)? {
                        Some(vector) => {
                            let start = values.len();
                            values.resize(start + vector.len(), 0.0);
                            vector.write_f64(&mut values[start..]);
                            true
                        }
                        None => false,
                    },
                };
                if !present {
                    let advice = if mode == Invalid::Keep {
                        "a NULL vector's size is unknown; fill or filter it first"
                    } else {
                        "remove NULLs from the data, or use handleInvalid 'keep' or 'skip'"
                    };
                    return Err(input_error(NAME, format!("encountered NULL in input {} of row {row}: {advice}", position + 1)));
                }
            }
            output.push_compressed(&values)?;
        }
        Ok(ColumnarValue::Array(output.finish()?))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}
