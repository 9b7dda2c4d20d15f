use crate::BinaryFileError;
use crate::glob::FileNameGlob;
use chrono::{NaiveDateTime, TimeZone};
use datafusion::arrow::array::timezone::Tz;
use std::collections::HashMap;

/// Options of a binaryFile read, named as in Spark (case-insensitive).
///
/// | option | default | meaning |
/// |---|---|---|
/// | `pathGlobFilter` | none | keep files whose NAME matches this glob (case-sensitive) |
/// | `recursiveFileLookup` | `false` | read files at any depth, with no partition columns |
/// | `modifiedBefore` | none | keep files modified strictly before `YYYY-MM-DDTHH:mm:ss` (session time zone) |
/// | `modifiedAfter` | none | keep files modified strictly after `YYYY-MM-DDTHH:mm:ss` (session time zone) |
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct BinaryFileOptions {
    pub path_glob_filter: Option<String>,
    pub recursive_file_lookup: bool,
    pub modified_before: Option<String>,
    pub modified_after: Option<String>,
}

impl BinaryFileOptions {
    /// Parses Spark-style options; keys are case-insensitive, unknown keys are refused.
    pub fn from_map(options: &HashMap<String, String>) -> Result<Self, BinaryFileError> {
        let mut parsed = Self::default();
        for (key, value) in options {
            // DataFusion may qualify options of CREATE EXTERNAL TABLE with `format.`.
            let bare = key.strip_prefix("format.").unwrap_or(key);
            match bare.to_ascii_lowercase().as_str() {
                "pathglobfilter" => parsed.path_glob_filter = Some(value.clone()),
                "recursivefilelookup" => {
                    parsed.recursive_file_lookup = match value.trim().to_ascii_lowercase().as_str() {
                        "true" => true,
                        "false" => false,
                        _ => {
                            return Err(BinaryFileError::InvalidOption {
                                option: "recursiveFileLookup",
                                value: value.clone(),
                                reason: "expected true or false".to_owned(),
                            });
                        }
                    }
                }
                "modifiedbefore" => parsed.modified_before = Some(value.clone()),
                "modifiedafter" => parsed.modified_after = Some(value.clone()),
                _ => return Err(BinaryFileError::UnknownOption(bare.to_owned())),
            }
        }
        parsed.validate()?;
        Ok(parsed)
    }

    pub fn with_path_glob_filter(mut self, pattern: impl Into<String>) -> Self {
        self.path_glob_filter = Some(pattern.into());
        self
    }

    pub fn with_recursive_file_lookup(mut self, recursive: bool) -> Self {
        self.recursive_file_lookup = recursive;
        self
    }

    pub fn with_modified_before(mut self, timestamp: impl Into<String>) -> Self {
        self.modified_before = Some(timestamp.into());
        self
    }

    pub fn with_modified_after(mut self, timestamp: impl Into<String>) -> Self {
        self.modified_after = Some(timestamp.into());
        self
    }

    /// Checks the glob and the timestamps' syntax (the time zone is applied at scan time).
    pub fn validate(&self) -> Result<(), BinaryFileError> {
        self.glob()?;
        self.modified_range(None)?;
        Ok(())
    }

    pub(crate) fn glob(&self) -> Result<Option<FileNameGlob>, BinaryFileError> {
        self.path_glob_filter.as_deref().map(FileNameGlob::new).transpose()
    }

    /// `(after, before)` bounds in microseconds since the epoch, exclusive.
    pub(crate) fn modified_range(&self, time_zone: Option<&str>) -> Result<(Option<i64>, Option<i64>), BinaryFileError> {
        let parse = |option: &'static str, value: &Option<String>| -> Result<Option<i64>, BinaryFileError> {
            value.as_deref().map(|text| parse_timestamp(option, text, time_zone)).transpose()
        };
        Ok((parse("modifiedAfter", &self.modified_after)?, parse("modifiedBefore", &self.modified_before)?))
    }
}

/// Parses `YYYY-MM-DDTHH:mm:ss` in `time_zone` (UTC when unset), as Spark does for
/// `modifiedBefore` / `modifiedAfter`.
fn parse_timestamp(option: &'static str, text: &str, time_zone: Option<&str>) -> Result<i64, BinaryFileError> {
    let invalid = |reason: String| BinaryFileError::InvalidOption { option, value: text.to_owned(), reason };
    let naive =
        NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S").map_err(|e| invalid(format!("expected YYYY-MM-DDTHH:mm:ss ({e})")))?;
    let zone = time_zone.unwrap_or("UTC");
    let tz: Tz = zone.parse().map_err(|e| invalid(format!("session time zone '{zone}': {e}")))?;
    let local = tz.from_local_datetime(&naive).earliest().ok_or_else(|| invalid(format!("does not exist in time zone {zone}")))?;
    Ok(local.timestamp_micros())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(pairs: &[(&str, &str)]) -> Result<BinaryFileOptions, String> {
        let map = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        BinaryFileOptions::from_map(&map).map_err(|e| e.to_string())
    }

    #[test]
    fn spark_option_names_are_case_insensitive() {
        let parsed = options(&[("pathglobfilter", "*.jpg"), ("RecursiveFileLookup", "TRUE")]);
        assert_eq!(parsed, Ok(BinaryFileOptions::default().with_path_glob_filter("*.jpg").with_recursive_file_lookup(true)));
    }

    #[test]
    fn bad_options_are_refused_with_their_name() {
        assert!(options(&[("pathGlob", "*")]).is_err_and(|e| e.contains("unknown binaryFile option 'pathGlob'")));
        assert!(options(&[("recursiveFileLookup", "yes")]).is_err_and(|e| e.contains("recursiveFileLookup")));
        assert!(options(&[("modifiedBefore", "2024-01-01")]).is_err_and(|e| e.contains("modifiedBefore")));
        assert!(options(&[("modifiedAfter", "2024-13-01T00:00:00")]).is_err_and(|e| e.contains("modifiedAfter")));
    }

    #[test]
    fn timestamps_are_read_in_the_session_time_zone() -> Result<(), BinaryFileError> {
        let options = BinaryFileOptions::default().with_modified_before("2024-06-01T12:00:00");
        let utc = options.modified_range(None)?.1;
        let paris = options.modified_range(Some("Europe/Paris"))?.1;
        assert_eq!(utc, Some(1_717_243_200_000_000));
        assert_eq!(paris, Some(1_717_243_200_000_000 - 2 * 3_600_000_000));
        Ok(())
    }
}
