//! verger's session settings: the `verger.*` namespace of DataFusion's `SET`.
//!
//! A distributed query crosses three sessions (client, scheduler, executors); Ballista carries
//! the session's settings between them as key/value pairs built from
//! `ConfigOptions::entries()`. Every key here is therefore reported with its full
//! `verger.` prefix, so that the receiving side can `set` it back.

use datafusion::common::config_err;
use datafusion::config::{ConfigEntry, ConfigExtension, ConfigOptions, ExtensionOptions};
use std::any::Any;
use std::collections::BTreeMap;

/// Spark's `spark.sql.sources.binaryFile.maxLength` default.
pub const DEFAULT_BINARY_FILE_MAX_LENGTH: u64 = i32::MAX as u64;
/// Images over 100 megapixels are refused before decoding by default.
pub const DEFAULT_MAX_PIXELS: u64 = 100_000_000;
/// The model `image_features(content)` uses when no model is named.
pub const DEFAULT_MODEL: &str = "efficientnet_lite0";
/// Images per ONNX Runtime call.
pub const DEFAULT_INFERENCE_BATCH: usize = 8;

/// What an image function does with an image it cannot read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OnError {
    /// The query fails with an error naming the file and the reason.
    #[default]
    Fail,
    /// The row's value is NULL (and a warning is logged); the other rows are kept.
    Null,
}

impl OnError {
    pub fn as_str(self) -> &'static str {
        match self {
            OnError::Fail => "fail",
            OnError::Null => "null",
        }
    }
}

/// The fields of a model registration, `verger.model.<name>.<field>`.
pub const MODEL_FIELDS: &[(&str, &str)] = &[
    ("uri", "where the model is: a directory or model.json descriptor, or an .onnx file (local path, file:, s3://)"),
    ("input", "name of the model's image input (default: its first input)"),
    ("input_size", "input size in pixels: 224, or WIDTHxHEIGHT"),
    ("layout", "NCHW (channel planes) or NHWC (interleaved)"),
    ("resize", "stretch (plain resize), center_crop or pad"),
    ("crop_fraction", "for center_crop: the share of the shorter side kept (0.875 = 224 of 256)"),
    ("pad_value", "for pad: the gray level 0-255 of the padding"),
    ("scale", "pixel values (0-255) are multiplied by this first"),
    ("mean", "subtracted per channel after scaling: one number or three, comma-separated"),
    ("std", "divides per channel after the mean: one number or three"),
    ("features_output", "name of the output holding the feature vector"),
    ("features_dim", "length of the feature vector (read from the model when unset)"),
    ("logits_output", "name of the output holding class scores, for image_classify"),
    ("classes", "text file of class names, one per line, for image_classify"),
];

/// One model's registration, as the user wrote it; verger-features validates and resolves it.
/// Values are kept as text so that they travel between sessions unchanged.
pub type ModelSettings = BTreeMap<String, String>;

/// Settings of the `verger` namespace.
///
/// | key | default | meaning |
/// |---|---|---|
/// | `verger.binary_file.max_length` | 2147483647 | a file larger than this, read by a query that needs its `content`, fails the query (Spark's `spark.sql.sources.binaryFile.maxLength`) |
/// | `verger.images.on_error` | `fail` | `fail`: an unreadable image fails the query, naming the file; `null`: its row gets NULL |
/// | `verger.images.max_pixels` | 100000000 | images with more pixels are refused from their header, before decoding |
/// | `verger.images.default_model` | `efficientnet_lite0` | the model of `image_features(content)` and `image_classify(content)` |
/// | `verger.features.batch_size` | 8 | images per ONNX Runtime call |
/// | `verger.model.<name>.<field>` | | a model registration, see [`MODEL_FIELDS`] |
/// | `verger.materialize.dir` | (temp dir) | where a one-liner (`pca(...)`) keeps a computed input between its fit and its transform; local path or `s3://`; on a multi-host cluster, storage every executor shares |
/// | `verger.null_report.dir` | (empty) | set by the client for each statement under `on_error = 'null'`: where every process of the query leaves the files whose rows got NULL, for the client to report them (crate `verger-storage`, `NullReport`); empty: they are only logged |
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VergerConfig {
    pub binary_file_max_length: u64,
    pub images_on_error: OnError,
    pub images_max_pixels: u64,
    pub default_model: String,
    pub inference_batch: usize,
    /// Registered models by lower-case name.
    pub models: BTreeMap<String, ModelSettings>,
    /// Empty: a `verger-materialize` directory under each process's temp dir.
    pub materialize_dir: String,
    /// Empty: NULLs under `on_error = 'null'` are logged by the process that made them only.
    pub null_report_dir: String,
}

impl Default for VergerConfig {
    fn default() -> Self {
        Self {
            binary_file_max_length: DEFAULT_BINARY_FILE_MAX_LENGTH,
            images_on_error: OnError::Fail,
            images_max_pixels: DEFAULT_MAX_PIXELS,
            default_model: DEFAULT_MODEL.to_owned(),
            inference_batch: DEFAULT_INFERENCE_BATCH,
            models: BTreeMap::new(),
            materialize_dir: String::new(),
            null_report_dir: String::new(),
        }
    }
}

impl ConfigExtension for VergerConfig {
    const PREFIX: &'static str = "verger";
}

const MAX_LENGTH_KEY: &str = "binary_file.max_length";
const ON_ERROR_KEY: &str = "images.on_error";
const MAX_PIXELS_KEY: &str = "images.max_pixels";
const DEFAULT_MODEL_KEY: &str = "images.default_model";
const BATCH_KEY: &str = "features.batch_size";
const MODEL_PREFIX: &str = "model.";
const MATERIALIZE_DIR_KEY: &str = "materialize.dir";
const NULL_REPORT_DIR_KEY: &str = "null_report.dir";
/// The full name of the setting that names a statement's NULL report folder.
pub const NULL_REPORT_DIR_SETTING: &str = "verger.null_report.dir";

/// Model names are SQL-identifier-like, compared case-insensitively.
pub fn normalise_model_name(name: &str) -> Option<String> {
    let name = name.trim().to_ascii_lowercase();
    let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    valid.then_some(name)
}

impl VergerConfig {
    /// The settings of a session, or the defaults when the session has none.
    pub fn from_options(options: &ConfigOptions) -> Self {
        options.extensions.get::<VergerConfig>().cloned().unwrap_or_default()
    }

    fn set_model(&mut self, key: &str, value: &str) -> datafusion::error::Result<()> {
        let Some((name, field)) = key.rsplit_once('.') else {
            return config_err!("model settings are verger.model.<name>.<field>, not 'verger.model.{key}'");
        };
        let Some(name) = normalise_model_name(name) else {
            return config_err!("'{name}' is not a model name: use letters, digits, '_' and '-'");
        };
        let field = field.to_ascii_lowercase();
        if !MODEL_FIELDS.iter().any(|(known, _)| *known == field) {
            let known: Vec<&str> = MODEL_FIELDS.iter().map(|(f, _)| *f).collect();
            return config_err!("unknown model setting 'verger.model.{name}.{field}'; the fields are {}", known.join(", "));
        }
        let settings = self.models.entry(name).or_default();
        if value.trim().is_empty() {
            settings.remove(&field);
        } else {
            settings.insert(field, value.trim().to_owned());
        }
        Ok(())
    }
}

fn parse_whole<T>(key: &str, value: &str, min: T, max: T, what: &str) -> datafusion::error::Result<T>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    match value.trim().parse::<T>() {
        Ok(n) if n >= min && n <= max => Ok(n),
        _ => config_err!("verger.{key} must be {what} from {min} to {max}, not '{value}'"),
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
            MAX_LENGTH_KEY => {
                self.binary_file_max_length = parse_whole(key, value, 0, DEFAULT_BINARY_FILE_MAX_LENGTH, "a whole number of bytes")?
            }
            ON_ERROR_KEY => {
                self.images_on_error = match value.trim().to_ascii_lowercase().as_str() {
                    "fail" => OnError::Fail,
                    "null" => OnError::Null,
                    _ => return config_err!("verger.{ON_ERROR_KEY} must be 'fail' or 'null', not '{value}'"),
                }
            }
            MAX_PIXELS_KEY => self.images_max_pixels = parse_whole(key, value, 1, u64::MAX / 16, "a number of pixels")?,
            MATERIALIZE_DIR_KEY => self.materialize_dir = value.trim().to_owned(),
            NULL_REPORT_DIR_KEY => self.null_report_dir = value.trim().to_owned(),
            BATCH_KEY => self.inference_batch = parse_whole(key, value, 1, 4096, "a number of images")?,
            DEFAULT_MODEL_KEY => match normalise_model_name(value) {
                Some(name) => self.default_model = name,
                None => return config_err!("'{value}' is not a model name: use letters, digits, '_' and '-'"),
            },
            _ => match key.strip_prefix(MODEL_PREFIX) {
                Some(model_key) => self.set_model(model_key, value)?,
                None => {
                    return config_err!(
                        "unknown setting 'verger.{key}'; known settings: verger.{MAX_LENGTH_KEY}, verger.{ON_ERROR_KEY}, verger.{MAX_PIXELS_KEY}, verger.{DEFAULT_MODEL_KEY}, verger.{BATCH_KEY}, verger.{MATERIALIZE_DIR_KEY}, verger.{NULL_REPORT_DIR_KEY}, verger.model.<name>.<field>"
                    );
                }
            },
        }
        Ok(())
    }

    fn entries(&self) -> Vec<ConfigEntry> {
        let prefix = Self::PREFIX;
        let mut entries = vec![
            ConfigEntry {
                key: format!("{prefix}.{MAX_LENGTH_KEY}"),
                value: Some(self.binary_file_max_length.to_string()),
                description: "largest file, in bytes, whose content a query may read (Spark's spark.sql.sources.binaryFile.maxLength)",
            },
            ConfigEntry {
                key: format!("{prefix}.{ON_ERROR_KEY}"),
                value: Some(self.images_on_error.as_str().to_owned()),
                description: "fail: an unreadable image fails the query, naming the file; null: its row gets NULL",
            },
            ConfigEntry {
                key: format!("{prefix}.{MAX_PIXELS_KEY}"),
                value: Some(self.images_max_pixels.to_string()),
                description: "images with more pixels are refused from their header, before decoding",
            },
            ConfigEntry {
                key: format!("{prefix}.{DEFAULT_MODEL_KEY}"),
                value: Some(self.default_model.clone()),
                description: "the model of image_features(content) and image_classify(content)",
            },
            ConfigEntry {
                key: format!("{prefix}.{BATCH_KEY}"),
                value: Some(self.inference_batch.to_string()),
                description: "images per ONNX Runtime call",
            },
            ConfigEntry {
                key: format!("{prefix}.{MATERIALIZE_DIR_KEY}"),
                value: Some(self.materialize_dir.clone()),
                description: "where pca(...) keeps a computed input between its fit and its transform (local path or s3://; empty: the temp dir)",
            },
            ConfigEntry {
                key: format!("{prefix}.{NULL_REPORT_DIR_KEY}"),
                value: Some(self.null_report_dir.clone()),
                description: "set by the client per statement under on_error = 'null': where the files whose rows got NULL are reported",
            },
        ];
        for (name, settings) in &self.models {
            for (field, value) in settings {
                let description = MODEL_FIELDS.iter().find(|(f, _)| f == field).map(|(_, d)| *d).unwrap_or("model setting");
                entries.push(ConfigEntry {
                    key: format!("{prefix}.{MODEL_PREFIX}{name}.{field}"),
                    value: Some(value.clone()),
                    description,
                });
            }
        }
        entries
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
        options.set("verger.images.on_error", "NULL")?;
        options.set("verger.model.Mine.uri", "s3://models/mine/")?;
        options.set("verger.model.mine.mean", "0.485,0.456,0.406")?;
        let sent: Vec<_> = options.entries().into_iter().filter(|e| e.key.starts_with("verger.")).collect();
        assert_eq!(sent.len(), 9);

        let mut received = ConfigOptions::new();
        received.extensions.insert(VergerConfig::default());
        for entry in sent {
            if let Some(value) = entry.value {
                received.set(&entry.key, &value)?;
            }
        }
        let config = VergerConfig::from_options(&received);
        assert_eq!(config.binary_file_max_length, 1024);
        assert_eq!(config.images_on_error, OnError::Null);
        assert_eq!(config.models["mine"]["uri"], "s3://models/mine/");
        assert_eq!(config.models["mine"]["mean"], "0.485,0.456,0.406");
        assert_eq!(config, VergerConfig::from_options(&options));
        Ok(())
    }

    #[test]
    fn bad_values_and_keys_are_refused() {
        let mut config = VergerConfig::default();
        assert!(config.set(MAX_LENGTH_KEY, "-1").is_err());
        assert!(config.set(MAX_LENGTH_KEY, "3000000000").is_err());
        assert!(config.set("nope", "1").is_err());
        assert!(config.set("images.on_error", "skip").is_err());
        assert!(config.set("model.x.colour", "1").is_err());
        assert!(config.set("model.bad name.uri", "x").is_err());
        assert!(config.set("model.uri", "x").is_err());
        assert!(config.set("features.batch_size", "0").is_err());
    }
}
