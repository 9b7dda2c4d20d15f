use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};
use std::sync::{Arc, LazyLock};

/// Spark's `regexp_replace(str, regexp, rep [, position])`: EVERY match replaced (DataFusion's
/// function of that name replaces the first unless given the `'g'` flag, and takes flags where
/// Spark takes a position). `rep` may refer to groups as `$1`. `position` (1-based, default 1)
/// must be 1; a NULL argument gives NULL. The pattern is a Rust `regex` (RE2 syntax).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RegexpReplace {
    signature: Signature,
}

impl RegexpReplace {
    pub fn new() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

impl Default for RegexpReplace {
    fn default() -> Self {
        Self::new()
    }
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        datafusion::logical_expr::DocSection { include: true, label: "Spark Functions", description: None },
        "Replaces every match of a regular expression (Spark's regexp_replace).",
        "regexp_replace(str, regexp, rep [, position])",
    )
    .with_sql_example("SELECT regexp_replace('Granny Smith', '[aeiou]', '_'); -- Gr_nny Sm_th")
    .with_argument("str", "The string to search")
    .with_argument("regexp", "A regular expression")
    .with_argument("rep", "The replacement; $1 is the first group")
    .with_argument("position", "Where the search starts, 1-based; only 1 is supported")
    .build()
});

impl ScalarUDFImpl for RegexpReplace {
    fn name(&self) -> &str {
        "regexp_replace"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if !(3..=4).contains(&arg_types.len()) {
            return plan_err!("regexp_replace takes 3 or 4 arguments (str, regexp, rep [, position]), got {}", arg_types.len());
        }
        arg_types
            .iter()
            .enumerate()
            .map(|(position, data_type)| {
                let is_string = matches!(data_type, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null);
                match position {
                    0..=2 if is_string => Ok(DataType::Utf8),
                    3 if data_type.is_integer() || data_type.is_null() => Ok(DataType::Int32),
                    _ => plan_err!(
                        "regexp_replace: argument {} must be {}, got {data_type}",
                        position + 1,
                        if position < 3 { "a string" } else { "an integer" }
                    ),
                }
            })
            .collect()
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        match args.args.get(3) {
            None | Some(ColumnarValue::Scalar(ScalarValue::Int32(Some(1)))) => {}
            Some(ColumnarValue::Scalar(ScalarValue::Int32(None))) => {
                return Ok(ColumnarValue::Scalar(ScalarValue::Utf8(None)));
            }
            Some(_) => return exec_err!("regexp_replace: only position 1 (the whole string) is supported"),
        }
        let mut arguments: Vec<ColumnarValue> = args.args.into_iter().take(3).collect();
        let mut fields: Vec<_> = args.arg_fields.into_iter().take(3).collect();
        arguments.push(ColumnarValue::Scalar(ScalarValue::Utf8(Some("g".to_owned()))));
        fields.push(Arc::new(Field::new("flags", DataType::Utf8, false)));
        datafusion::functions::regex::regexp_replace().invoke_with_args(ScalarFunctionArgs {
            args: arguments,
            arg_fields: fields,
            number_rows: args.number_rows,
            return_field: args.return_field,
            config_options: args.config_options,
        })
    }
}
