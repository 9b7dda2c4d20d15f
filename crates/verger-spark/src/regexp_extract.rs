use crate::coerce::strings_then_integers;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int32Array, StringArray, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::{ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};
use regex::Regex;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

/// Spark's `regexp_extract(str, regexp [, idx])`: group `idx` (default 1; 0 is the whole
/// match) of the first match of `regexp` in `str`.
///
/// - No match, or a group that took no part in the match, gives the empty string, as Spark.
/// - `idx` outside `0..=groups` fails with Spark's `[INVALID_PARAMETER_VALUE.REGEX_GROUP_INDEX]`.
/// - A NULL argument gives NULL.
///
/// Deliberate difference from Spark: the pattern is a Rust `regex` (RE2 syntax), not a Java
/// regex; look-around and back-references are refused with an error naming the pattern.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RegexpExtract {
    signature: Signature,
}

impl RegexpExtract {
    pub fn new() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

impl Default for RegexpExtract {
    fn default() -> Self {
        Self::new()
    }
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        datafusion::logical_expr::DocSection { include: true, label: "Spark Functions", description: None },
        "Extracts a group of the first match of a regular expression (Spark's regexp_extract); '' when nothing matches.",
        "regexp_extract(str, regexp [, idx])",
    )
    .with_sql_example("SELECT regexp_extract('Granny Smith', '([A-Z])[a-z]+', 1); -- G")
    .with_argument("str", "The string to search")
    .with_argument("regexp", "A regular expression")
    .with_argument("idx", "The group to return: 0 the whole match, 1 (the default) the first group, …")
    .build()
});

impl ScalarUDFImpl for RegexpExtract {
    fn name(&self) -> &str {
        "regexp_extract"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        strings_then_integers("regexp_extract", "(str, regexp [, idx])", 2..=3, 2, arg_types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let all_scalar = args.args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let strings = cast(&arrays[0], &DataType::Utf8)?;
        let patterns = cast(&arrays[1], &DataType::Utf8)?;
        let groups = match arrays.get(2) {
            Some(groups) => cast(groups, &DataType::Int32)?,
            None => Arc::new(Int32Array::from(vec![1; strings.len()])),
        };
        let (strings, patterns): (&StringArray, &StringArray) = (strings.as_string(), patterns.as_string());
        let groups: &Int32Array = groups.as_primitive();

        let mut compiled: HashMap<&str, Regex> = HashMap::new();
        let mut builder = StringBuilder::with_capacity(strings.len(), 0);
        for row in 0..strings.len() {
            if strings.is_null(row) || patterns.is_null(row) || groups.is_null(row) {
                builder.append_null();
                continue;
            }
            let (text, pattern, group) = (strings.value(row), patterns.value(row), groups.value(row));
            if !compiled.contains_key(pattern) {
                match Regex::new(pattern) {
                    Ok(regex) => compiled.insert(pattern, regex),
                    Err(e) => return exec_err!("regexp_extract: invalid regular expression '{pattern}': {e}"),
                };
            }
            let Some(regex) = compiled.get(pattern) else {
                return exec_err!("regexp_extract: regular expression '{pattern}' was not compiled");
            };
            let group_count = regex.captures_len() - 1;
            let index = match usize::try_from(group) {
                Ok(index) if index <= group_count => index,
                _ => {
                    return exec_err!(
                        "[INVALID_PARAMETER_VALUE.REGEX_GROUP_INDEX] The value of parameter(s) `idx` in `regexp_extract` is invalid: Expects group index between 0 and {group_count}, but got {group}."
                    );
                }
            };
            let found = regex.captures(text).and_then(|captures| captures.get(index)).map_or("", |m| m.as_str());
            builder.append_value(found);
        }
        let result: ArrayRef = Arc::new(builder.finish());
        if all_scalar { Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&result, 0)?)) } else { Ok(ColumnarValue::Array(result)) }
    }
}
