//! Argument coercion shared by the string functions whose leading arguments are strings and
//! whose trailing ones are integers (`split`, `regexp_extract`, `regexp_replace`).

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, plan_err};
use std::ops::RangeInclusive;

/// The argument types `name` is invoked with: the first `strings` arguments as `Utf8`, the rest
/// as `Int32`. `usage` names the arguments in the error for a wrong count, e.g.
/// `"(str, regex [, limit])"`.
pub(crate) fn strings_then_integers(
    name: &str,
    usage: &str,
    arity: RangeInclusive<usize>,
    strings: usize,
    arg_types: &[DataType],
) -> Result<Vec<DataType>> {
    if !arity.contains(&arg_types.len()) {
        let (low, high) = arity.into_inner();
        let counts = if low == high { low.to_string() } else { format!("{low} or {high}") };
        return plan_err!("{name} takes {counts} arguments {usage}, got {}", arg_types.len());
    }
    arg_types
        .iter()
        .enumerate()
        .map(|(position, data_type)| {
            if position < strings {
                if matches!(data_type, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null) {
                    return Ok(DataType::Utf8);
                }
                plan_err!("{name}: argument {} must be a string, got {data_type}", position + 1)
            } else if data_type.is_integer() || data_type.is_null() {
                Ok(DataType::Int32)
            } else {
                plan_err!("{name}: argument {} must be an integer, got {data_type}", position + 1)
            }
        })
        .collect()
}
