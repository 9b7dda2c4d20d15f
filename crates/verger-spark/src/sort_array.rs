use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::functions_nested::sort::array_sort_udf;
use datafusion::logical_expr::{ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};
use std::sync::{Arc, LazyLock};

/// Spark's `sort_array(array [, ascending])`: the array's elements in ascending (the default)
/// or descending order, NULL elements first when ascending and last when descending, NaN above
/// every other number. A NULL array gives NULL. `ascending` must be a constant boolean.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SortArray {
    signature: Signature,
}

impl SortArray {
    pub fn new() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

impl Default for SortArray {
    fn default() -> Self {
        Self::new()
    }
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        datafusion::logical_expr::DocSection { include: true, label: "Spark Functions", description: None },
        "Sorts an array; NULL elements first when ascending, last when descending (Spark's sort_array).",
        "sort_array(array [, ascending])",
    )
    .with_sql_example("SELECT sort_array([3, NULL, 1]), sort_array([3, NULL, 1], false); -- [NULL, 1, 3], [3, 1, NULL]")
    .with_argument("array", "The array to sort")
    .with_argument("ascending", "A constant boolean, true (the default) for ascending order")
    .build()
});

impl ScalarUDFImpl for SortArray {
    fn name(&self) -> &str {
        "sort_array"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let (array, ascending) = match arg_types {
            [array] => (array, None),
            [array, ascending] => (array, Some(ascending)),
            _ => return plan_err!("sort_array takes 1 or 2 arguments (array [, ascending]), got {}", arg_types.len()),
        };
        let array = match array {
            DataType::List(_) | DataType::LargeList(_) | DataType::Null => array.clone(),
            DataType::FixedSizeList(field, _) => DataType::List(Arc::clone(field)),
            other => return plan_err!("sort_array: the first argument must be an array, got {other}"),
        };
        let mut coerced = vec![array];
        if let Some(ascending) = ascending {
            if !matches!(ascending, DataType::Boolean | DataType::Null) {
                return plan_err!("sort_array: the second argument must be a boolean, got {ascending}");
            }
            coerced.push(DataType::Boolean);
        }
        Ok(coerced)
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types[0].clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let ascending = match args.args.get(1) {
            None => true,
            Some(ColumnarValue::Scalar(ScalarValue::Boolean(Some(ascending)))) => *ascending,
            Some(_) => return exec_err!("sort_array: the sort order must be a constant true or false"),
        };
        let (order, nulls) = if ascending { ("ASC", "NULLS FIRST") } else { ("DESC", "NULLS LAST") };
        let mut arguments = vec![args.args[0].clone()];
        let mut fields = vec![Arc::clone(&args.arg_fields[0])];
        for option in [order, nulls] {
            arguments.push(ColumnarValue::Scalar(ScalarValue::Utf8(Some(option.to_owned()))));
            fields.push(Arc::new(Field::new(option, DataType::Utf8, false)));
        }
        array_sort_udf().invoke_with_args(ScalarFunctionArgs {
            args: arguments,
            arg_fields: fields,
            number_rows: args.number_rows,
            return_field: args.return_field,
            config_options: args.config_options,
        })
    }
}
