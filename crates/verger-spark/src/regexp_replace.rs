use crate::coerce::strings_then_integers;
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::{Result, ScalarValue, exec_err};
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
        strings_then_integers("regexp_replace", "(str, regexp, rep [, position])", 3..=4, 3, arg_types)
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
