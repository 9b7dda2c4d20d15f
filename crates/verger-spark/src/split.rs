use crate::coerce::strings_then_integers;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int32Array, ListBuilder, StringArray, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};
use regex::Regex;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

/// Spark's `split(str, regex [, limit])`: splits around matches of `regex`, keeping empty
/// strings, trailing ones included (`split('a//b/', '/')` → `['a', '', 'b', '']`).
///
/// - `limit > 0`: at most `limit` elements, the last holding the rest of the string;
///   `limit <= 0` (the default, -1): as many as there are.
/// - An empty `regex` splits into characters.
/// - A NULL argument gives NULL.
///
/// Deliberate difference from Spark: the pattern is a Rust `regex` (RE2 syntax), not a Java
/// regex. Common patterns are the same; look-around and back-references are refused with an
/// error naming the pattern.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Split {
    signature: Signature,
}

impl Split {
    pub fn new() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

impl Default for Split {
    fn default() -> Self {
        Self::new()
    }
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        datafusion::logical_expr::DocSection { include: true, label: "Spark Functions", description: None },
        "Splits a string around matches of a regular expression, keeping empty strings (Spark's split).",
        "split(str, regex [, limit])",
    )
    .with_sql_example("SELECT split('file:/a//b/c.jpg', '/'); -- [file:, a, , b, c.jpg]")
    .with_argument("str", "The string to split")
    .with_argument("regex", "A regular expression")
    .with_argument("limit", "At most this many elements when > 0; unlimited when <= 0 (default -1)")
    .build()
});

fn string_list() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)))
}

impl ScalarUDFImpl for Split {
    fn name(&self) -> &str {
        "split"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        strings_then_integers("split", "(str, regex [, limit])", 2..=3, 2, arg_types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(string_list())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let all_scalar = args.args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let strings = cast(&arrays[0], &DataType::Utf8)?;
        let patterns = cast(&arrays[1], &DataType::Utf8)?;
        let strings: &StringArray = strings.as_string();
        let patterns: &StringArray = patterns.as_string();
        let limits = match arrays.get(2) {
            Some(limits) => Some(cast(limits, &DataType::Int32)?),
            None => None,
        };
        let limits: Option<&Int32Array> = limits.as_ref().map(|l| l.as_primitive());

        let mut compiled: HashMap<&str, Regex> = HashMap::new();
        let mut builder = ListBuilder::new(StringBuilder::new());
        for row in 0..strings.len() {
            let limit = match limits {
                Some(l) if l.is_null(row) => None,
                Some(l) => Some(l.value(row)),
                None => Some(-1),
            };
            if strings.is_null(row) || patterns.is_null(row) || limit.is_none() {
                builder.append_null();
                continue;
            }
            let (text, pattern, limit) = (strings.value(row), patterns.value(row), limit.unwrap_or(-1));
            let pieces = if pattern.is_empty() {
                split_chars(text, limit)
            } else {
                if !compiled.contains_key(pattern) {
                    let regex = match Regex::new(pattern) {
                        Ok(regex) => regex,
                        Err(e) => return exec_err!("split: invalid regular expression '{pattern}': {e}"),
                    };
                    compiled.insert(pattern, regex);
                }
                match compiled.get(pattern) {
                    Some(regex) => java_split(text, regex, limit),
                    None => return exec_err!("split: regular expression '{pattern}' was not compiled"),
                }
            };
            for piece in pieces {
                builder.values().append_value(piece);
            }
            builder.append(true);
        }
        let result: ArrayRef = Arc::new(builder.finish());
        if all_scalar {
            Ok(ColumnarValue::Scalar(datafusion::common::ScalarValue::try_from_array(&result, 0)?))
        } else {
            Ok(ColumnarValue::Array(result))
        }
    }
}

/// Java's `String.split(regex, limit)` for `limit != 0`, which Spark uses.
fn java_split<'a>(input: &'a str, regex: &Regex, limit: i32) -> Vec<&'a str> {
    let limited = limit > 0;
    let mut pieces = Vec::new();
    let mut index = 0;
    for found in regex.find_iter(input) {
        if limited && pieces.len() as i64 >= i64::from(limit) - 1 {
            break;
        }
        // A zero-width match at the very beginning never yields a leading empty string.
        if found.end() == 0 {
            continue;
        }
        pieces.push(&input[index..found.start()]);
        index = found.end();
    }
    if index == 0 {
        return vec![input];
    }
    pieces.push(&input[index..]);
    pieces
}

/// Spark's special case of an empty pattern: one element per character, no trailing empty
/// string; with `limit > 0` the last element holds the rest.
fn split_chars(input: &str, limit: i32) -> Vec<&str> {
    if input.is_empty() {
        return vec![""];
    }
    let characters = input.chars().count();
    let pieces = if limit <= 0 || limit as usize > characters { characters } else { limit as usize };
    let mut out = Vec::with_capacity(pieces);
    let mut rest = input;
    for _ in 0..pieces - 1 {
        let width = rest.chars().next().map_or(0, char::len_utf8);
        out.push(&rest[..width]);
        rest = &rest[width..];
    }
    out.push(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(input: &str, pattern: &str, limit: i32) -> Vec<String> {
        let pieces = if pattern.is_empty() {
            split_chars(input, limit)
        } else {
            Regex::new(pattern).map(|r| java_split(input, &r, limit)).unwrap_or_default()
        };
        pieces.into_iter().map(str::to_owned).collect()
    }

    #[test]
    fn keeps_empty_strings_like_spark() {
        assert_eq!(split("file:/a//b/c.jpg", "/", -1), ["file:", "a", "", "b", "c.jpg"]);
        assert_eq!(split("a/b/", "/", -1), ["a", "b", ""]);
        assert_eq!(split("/a", "/", -1), ["", "a"]);
        assert_eq!(split("", "/", -1), [""]);
        assert_eq!(split("abc", "/", -1), ["abc"]);
        assert_eq!(split("oneAtwoBthreeC", "[ABC]", -1), ["one", "two", "three", ""]);
    }

    #[test]
    fn honours_limits() {
        assert_eq!(split("a/b/c", "/", 2), ["a", "b/c"]);
        assert_eq!(split("a/b/c", "/", 1), ["a/b/c"]);
        assert_eq!(split("a/b/c", "/", 0), ["a", "b", "c"]);
        assert_eq!(split("a/b/c", "/", 10), ["a", "b", "c"]);
    }

    #[test]
    fn empty_pattern_splits_characters() {
        assert_eq!(split("abc", "", -1), ["a", "b", "c"]);
        assert_eq!(split("abc", "", 2), ["a", "bc"]);
        assert_eq!(split("çé", "", -1), ["ç", "é"]);
        assert_eq!(split("", "", -1), [""]);
    }
}
