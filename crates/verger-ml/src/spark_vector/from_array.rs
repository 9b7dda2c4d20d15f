//! `array_to_vector(array)`: `pyspark.ml.functions.array_to_vector`.

use super::{SparkVectorBuilder, spark_vector_type};
use crate::args::DOC_SECTION;
use crate::vectors::{VectorColumn, coerce_vector_arg};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::{ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};
use std::sync::LazyLock;

pub const NAME: &str = "array_to_vector";

/// Arrays of numbers → dense Spark ML vectors.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ArrayToVector {
    signature: Signature,
}

impl Default for ArrayToVector {
    fn default() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION,
        "Converts an array of numbers into a dense Spark ML vector (pyspark.ml.functions.array_to_vector): the struct \
         (type, size, indices, values) that PySpark reads as a DenseVector. NULL for a NULL array; a NULL item is an error.",
        "array_to_vector(array)",
    )
    .with_argument("array", "An array of numbers, e.g. image_features(content).")
    .with_sql_example("SELECT array_to_vector(image_features(content)) AS features FROM images")
    .build()
});

impl ScalarUDFImpl for ArrayToVector {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [array] = arg_types else {
            return plan_err!("{NAME} takes one argument, an array of numbers; got {} arguments", arg_types.len());
        };
        Ok(vec![coerce_vector_arg(NAME, array)?])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(spark_vector_type())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [array] = args.args.as_slice() else {
            return plan_err!("{NAME} takes one argument");
        };
        let array = array.to_array(args.number_rows)?;
        let column = VectorColumn::try_new(NAME, &array)?;
        let mut output = SparkVectorBuilder::with_capacity(column.len());
        let mut values = Vec::new();
        for row in 0..column.len() {
            match column.get(row)? {
                Some(vector) => {
                    values.resize(vector.len(), 0.0);
                    vector.write_f64(&mut values);
                    output.push_dense(&values);
                }
                None => output.push_null(),
            }
        }
        Ok(ColumnarValue::Array(output.finish()?))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}
