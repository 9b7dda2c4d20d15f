//! Spark's partition discovery for `key=value` directories (used without
//! `recursiveFileLookup`): column parsing, value unescaping and type inference.

use crate::BinaryFileError;
use chrono::{NaiveDate, NaiveDateTime, TimeZone};
use datafusion::arrow::array::timezone::Tz;
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::ScalarValue;

/// Spark's name for a NULL partition value.
pub const DEFAULT_PARTITION_NAME: &str = "__HIVE_DEFAULT_PARTITION__";

/// The type Spark infers for a partition column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum PartitionType {
    Null,
    Int,
    Long,
    Double,
    Date,
    Timestamp,
    String,
}

impl PartitionType {
    pub fn arrow_type(self) -> DataType {
        match self {
            PartitionType::Null | PartitionType::String => DataType::Utf8,
            PartitionType::Int => DataType::Int32,
            PartitionType::Long => DataType::Int64,
            PartitionType::Double => DataType::Float64,
            PartitionType::Date => DataType::Date32,
            PartitionType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        }
    }

    /// The narrowest type holding both, as Spark resolves partition type conflicts.
    fn wider(self, other: PartitionType) -> PartitionType {
        use PartitionType::*;
        match (self, other) {
            (a, b) if a == b => a,
            (Null, x) | (x, Null) => x,
            (Int, Long) | (Long, Int) => Long,
            (Int | Long, Double) | (Double, Int | Long) => Double,
            (Date, Timestamp) | (Timestamp, Date) => Timestamp,
            _ => String,
        }
    }
}

/// A partition column: its name and the type inferred from all its values.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct PartitionColumn {
    pub name: String,
    pub data_type: PartitionType,
}

/// Parses a directory name `key=value` into (unescaped key, raw value).
pub(crate) fn parse_column(dir_name: &str) -> Result<Option<(String, String)>, BinaryFileError> {
    let Some((key, value)) = dir_name.split_once('=') else {
        return Ok(None);
    };
    let invalid = |reason: &str| BinaryFileError::InvalidOption {
        option: "partition directory",
        value: dir_name.to_owned(),
        reason: reason.to_owned(),
    };
    let key = unescape_path_name(key);
    if key.is_empty() {
        return Err(invalid("empty partition column name"));
    }
    if value.is_empty() {
        return Err(invalid("empty partition column value"));
    }
    Ok(Some((key, value.to_owned())))
}

/// Hive's `%XX` escaping of partition directory names; an invalid escape is kept as written,
/// and bytes that are not UTF-8 once decoded become U+FFFD.
pub(crate) fn unescape_path_name(text: &str) -> String {
    percent_encoding::percent_decode_str(text).decode_utf8_lossy().into_owned()
}

fn is_java_double(text: &str) -> bool {
    if matches!(text, "NaN" | "Infinity" | "+Infinity" | "-Infinity") {
        return true;
    }
    let plausible =
        !text.is_empty() && text.chars().all(|c| c.is_ascii_digit() || "+-.eE".contains(c)) && text.chars().any(|c| c.is_ascii_digit());
    plausible && text.parse::<f64>().is_ok()
}

const TIMESTAMP_FORMATS: [&str; 2] = ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M:%S"];

/// The type Spark infers for one raw value.
pub(crate) fn infer_type(raw: &str) -> PartitionType {
    if raw == DEFAULT_PARTITION_NAME {
        return PartitionType::Null;
    }
    if raw.parse::<i32>().is_ok() {
        return PartitionType::Int;
    }
    if raw.parse::<i64>().is_ok() {
        return PartitionType::Long;
    }
    if is_java_double(raw) {
        return PartitionType::Double;
    }
    let unescaped = unescape_path_name(raw);
    if TIMESTAMP_FORMATS.iter().any(|f| NaiveDateTime::parse_from_str(&unescaped, f).is_ok()) {
        return PartitionType::Timestamp;
    }
    if NaiveDate::parse_from_str(&unescaped, "%Y-%m-%d").is_ok() {
        return PartitionType::Date;
    }
    PartitionType::String
}

/// The column type for all of a column's raw values.
pub(crate) fn infer_column_type<'a>(values: impl Iterator<Item = &'a str>) -> PartitionType {
    values.map(infer_type).fold(PartitionType::Null, PartitionType::wider)
}

/// Converts a raw directory value to the column's type; timestamps are read in `time_zone`.
pub fn partition_value(raw: &str, data_type: PartitionType, time_zone: Option<&str>) -> Result<ScalarValue, BinaryFileError> {
    let arrow_type = data_type.arrow_type();
    if raw == DEFAULT_PARTITION_NAME {
        return ScalarValue::try_from(&arrow_type).map_err(|e| BinaryFileError::Codec(e.to_string()));
    }
    let unescaped = unescape_path_name(raw);
    let mismatch =
        || BinaryFileError::InvalidOption { option: "partition value", value: raw.to_owned(), reason: format!("not a {data_type:?}") };
    Ok(match data_type {
        PartitionType::Null | PartitionType::String => ScalarValue::Utf8(Some(unescaped)),
        PartitionType::Int => ScalarValue::Int32(Some(raw.parse().map_err(|_| mismatch())?)),
        PartitionType::Long => ScalarValue::Int64(Some(raw.parse().map_err(|_| mismatch())?)),
        PartitionType::Double => ScalarValue::Float64(Some(match raw {
            "NaN" => f64::NAN,
            "Infinity" | "+Infinity" => f64::INFINITY,
            "-Infinity" => f64::NEG_INFINITY,
            _ => raw.parse().map_err(|_| mismatch())?,
        })),
        PartitionType::Date => {
            let date = NaiveDate::parse_from_str(&unescaped, "%Y-%m-%d").map_err(|_| mismatch())?;
            let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).ok_or_else(mismatch)?;
            ScalarValue::Date32(Some((date - epoch).num_days() as i32))
        }
        PartitionType::Timestamp => {
            let naive = TIMESTAMP_FORMATS
                .iter()
                .find_map(|f| NaiveDateTime::parse_from_str(&unescaped, f).ok())
                .or_else(|| NaiveDate::parse_from_str(&unescaped, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)))
                .ok_or_else(mismatch)?;
            let tz: Tz = time_zone.unwrap_or("UTC").parse().map_err(|_| mismatch())?;
            let instant = tz.from_local_datetime(&naive).earliest().ok_or_else(mismatch)?;
            ScalarValue::TimestampMicrosecond(Some(instant.timestamp_micros()), Some("UTC".into()))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_inferred_and_widened_like_spark() {
        assert_eq!(infer_column_type(["1", "2"].into_iter()), PartitionType::Int);
        assert_eq!(infer_column_type(["1", "30000000000"].into_iter()), PartitionType::Long);
        assert_eq!(infer_column_type(["1", "2.5"].into_iter()), PartitionType::Double);
        assert_eq!(infer_column_type(["2024-01-02"].into_iter()), PartitionType::Date);
        assert_eq!(infer_column_type(["2024-01-02", "2024-01-02 10%3A00%3A00"].into_iter()), PartitionType::Timestamp);
        assert_eq!(infer_column_type(["1", "Apple"].into_iter()), PartitionType::String);
        assert_eq!(infer_column_type([DEFAULT_PARTITION_NAME, "3"].into_iter()), PartitionType::Int);
        assert_eq!(infer_column_type(["inf"].into_iter()), PartitionType::String);
    }

    #[test]
    fn values_are_unescaped_and_typed() -> Result<(), BinaryFileError> {
        assert_eq!(partition_value("Apple%20Braeburn", PartitionType::String, None)?, ScalarValue::Utf8(Some("Apple Braeburn".into())));
        assert_eq!(partition_value("7", PartitionType::Long, None)?, ScalarValue::Int64(Some(7)));
        assert_eq!(partition_value(DEFAULT_PARTITION_NAME, PartitionType::Int, None)?, ScalarValue::Int32(None));
        assert_eq!(partition_value("1970-01-02", PartitionType::Date, None)?, ScalarValue::Date32(Some(1)));
        Ok(())
    }

    #[test]
    fn invalid_escapes_are_kept_as_written() {
        assert_eq!(unescape_path_name("100%"), "100%");
        assert_eq!(unescape_path_name("a%zzb%2"), "a%zzb%2");
        assert_eq!(unescape_path_name("Caf%C3%A9%20%231"), "Café #1");
        assert_eq!(unescape_path_name("%FF"), "\u{FFFD}");
    }

    #[test]
    fn malformed_directories_are_refused() {
        assert!(parse_column("=x").is_err());
        assert!(parse_column("k=").is_err());
        assert!(matches!(parse_column("Apple"), Ok(None)));
        assert!(matches!(parse_column("label=Apple"), Ok(Some((k, v))) if k == "label" && v == "Apple"));
    }
}
