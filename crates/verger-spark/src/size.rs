use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int32Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Int32Type};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature};
use datafusion_spark::function::collection::size::SparkSize;
use std::sync::{Arc, LazyLock};

/// Spark's `size(array | map)`: the number of elements. A NULL input gives NULL with ANSI
/// mode on (Spark 4's default and verger's: `spark.sql.legacy.sizeOfNull` is off under
/// ANSI), and -1 with it off. `datafusion-spark`'s `size` counts; this one adds the ANSI rule.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Size {
    counting: SparkSize,
}

impl Size {
    pub fn new() -> Self {
        Self { counting: SparkSize::new() }
    }
}

impl Default for Size {
    fn default() -> Self {
        Self::new()
    }
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        datafusion::logical_expr::DocSection { include: true, label: "Spark Functions", description: None },
        "The number of elements of an array or map; NULL for NULL under ANSI mode, else -1 (Spark's size).",
        "size(expr)",
    )
    .with_sql_example("SELECT size(split('a/b/c', '/')); -- 3")
    .with_argument("expr", "An array or a map")
    .build()
});

impl ScalarUDFImpl for Size {
    fn name(&self) -> &str {
        "size"
    }

    fn aliases(&self) -> &[String] {
        self.counting.aliases()
    }

    fn signature(&self) -> &Signature {
        self.counting.signature()
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int32)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        Ok(Arc::new(Field::new(self.name(), DataType::Int32, args.arg_fields.first().is_none_or(|f| f.is_nullable()))))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let ansi = args.config_options.execution.enable_ansi_mode;
        let all_scalar = args.args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let input = args.args[0].to_array(args.number_rows)?;
        let counts = self.counting.invoke_with_args(args)?.to_array(input.len())?;
        let nulls = input.logical_nulls().filter(|nulls| nulls.null_count() > 0);
        let counts: ArrayRef = match nulls {
            Some(nulls) if ansi => {
                let counts = counts.as_primitive::<Int32Type>();
                Arc::new((0..counts.len()).map(|row| nulls.is_valid(row).then(|| counts.value(row))).collect::<Int32Array>())
            }
            _ => counts,
        };
        if all_scalar { Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&counts, 0)?)) } else { Ok(ColumnarValue::Array(counts)) }
    }
}
