//! verger's session settings: the `verger.*` namespace of DataFusion's `SET`.
//!
//! A distributed query crosses three sessions (client, scheduler, executors); Ballista carries
//! the session's settings between them as key/value pairs built from
//! `ConfigOptions::entries()`. Every key here is therefore reported with its full
//! `verger.` prefix, so that the receiving side can `set` it back.

use datafusion::common::config_err;
use datafusion::config::{ConfigEntry, ConfigExtension, ConfigOptions, ExtensionOptions};
use std::any::Any;

/// Spark's `spark.sql.sources.binaryFile.maxLength` default.
pub const DEFAULT_BINARY_FILE_MAX_LENGTH: u64 = i32::MAX as u64;

/// Settings of the `verger` namespace.
///
/// | key | default | meaning |
/// |---|---|---|
/// | `verger.binary_file.max_length` | 2147483647 | a file larger than this, read by a query that needs its `content`, fails the query (Spark's `spark.sql.sources.binaryFile.maxLength`) |
#[derive(Debug, Clone, PartialEq)]
pub struct VergerConfig {
    pub binary_file_max_length: u64,
}

impl Default for VergerConfig {
    fn default() -> Self {
        Self { binary_file_max_length: DEFAULT_BINARY_FILE_MAX_LENGTH }
    }
}

impl ConfigExtension for VergerConfig {
    const PREFIX: &'static str = "verger";
}

const MAX_LENGTH_KEY: &str = "binary_file.max_length";

impl VergerConfig {
    /// The settings of a session, or the defaults when the session has none.
    pub fn from_options(options: &ConfigOptions) -> Self {
        options.extensions.get::<VergerConfig>().cloned().unwrap_or_default()
    }
}

impl ExtensionOptions for VergerConfig {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn cloned(&self) -> Box<dyn ExtensionOptions> {
        Box::new(self.clone())
    }

    fn set(&mut self, key: &str, value: &str) -> datafusion::error::Result<()> {
        match key {
            MAX_LENGTH_KEY => match value.trim().parse::<u64>() {
                Ok(n) if n <= DEFAULT_BINARY_FILE_MAX_LENGTH => self.binary_file_max_length = n,
                _ => {
                    return config_err!(
                        "verger.{MAX_LENGTH_KEY} must be a whole number of bytes from 0 to {DEFAULT_BINARY_FILE_MAX_LENGTH}, not '{value}'"
                    );
                }
            },
            _ => return config_err!("unknown setting 'verger.{key}'; known settings: verger.{MAX_LENGTH_KEY}"),
        }
        Ok(())
    }

    fn entries(&self) -> Vec<ConfigEntry> {
        vec![ConfigEntry {
            key: format!("{}.{MAX_LENGTH_KEY}", Self::PREFIX),
            value: Some(self.binary_file_max_length.to_string()),
            description: "largest file, in bytes, whose content a query may read (Spark's spark.sql.sources.binaryFile.maxLength)",
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_with_their_prefix() -> datafusion::error::Result<()> {
        let mut options = ConfigOptions::new();
        options.extensions.insert(VergerConfig::default());
        options.set("verger.binary_file.max_length", "1024")?;
        let sent: Vec<_> = options.entries().into_iter().filter(|e| e.key.starts_with("verger.")).collect();
        assert_eq!(sent.len(), 1);

        let mut received = ConfigOptions::new();
        received.extensions.insert(VergerConfig::default());
        for entry in sent {
            if let Some(value) = entry.value {
                received.set(&entry.key, &value)?;
            }
        }
        assert_eq!(VergerConfig::from_options(&received).binary_file_max_length, 1024);
        Ok(())
    }

    #[test]
    fn bad_values_and_keys_are_refused() {
        let mut config = VergerConfig::default();
        assert!(config.set(MAX_LENGTH_KEY, "-1").is_err());
        assert!(config.set(MAX_LENGTH_KEY, "3000000000").is_err());
        assert!(config.set("nope", "1").is_err());
    }
}
