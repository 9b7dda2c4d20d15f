//! What a `COPY … TO … STORED AS PARQUET` statement asks for: the save mode and the Parquet
//! writer's options.

use crate::error::plan_error;
use datafusion::arrow::datatypes::Schema;
use datafusion::common::Result;
use datafusion::common::config::{ConfigFileType, TableOptions};
use datafusion::common::file_options::parquet_writer::ParquetWriterOptions;
use datafusion::config::ConfigOptions;
use datafusion::parquet::arrow::ArrowSchemaConverter;
use datafusion::parquet::basic::Type as PhysicalType;
use datafusion::parquet::file::properties::WriterProperties;
use datafusion::parquet::schema::types::ColumnPath;
use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// Spark's save modes (`df.write.mode(…)`), given as `OPTIONS ('mode' '…')`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum SaveMode {
    /// Spark's default: fail when the output already holds data.
    ErrorIfExists,
    /// Replace what the output holds, at commit: until then the previous result stays whole.
    Overwrite,
    /// Add new files next to the existing ones.
    Append,
}

impl SaveMode {
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "error" | "errorifexists" | "default" => Some(Self::ErrorIfExists),
            "overwrite" => Some(Self::Overwrite),
            "append" => Some(Self::Append),
            _ => None,
        }
    }
}

impl fmt::Display for SaveMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ErrorIfExists => "errorifexists",
            Self::Overwrite => "overwrite",
            Self::Append => "append",
        })
    }
}

/// The option key of the save mode, as DataFusion's SQL planner stores `'mode'`.
const MODE_KEY: &str = "format.mode";
const COMPRESSION_KEY: &str = "format.compression";
/// `format.dictionary_enabled`, and its per-column form `format.dictionary_enabled::column`.
const DICTIONARY_KEY: &str = "format.dictionary_enabled";
/// Spark writes snappy-compressed Parquet; DataFusion's own default is zstd.
const SPARK_COMPRESSION: &str = "snappy";

/// A committed write's options: the save mode and the Parquet format options (`format.*`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct WriteOptions {
    pub mode: SaveMode,
    /// `format.*` options, passed to DataFusion's Parquet writer options.
    pub format: BTreeMap<String, String>,
}

impl WriteOptions {
    /// Splits the options of a COPY statement into the save mode and the Parquet options,
    /// and checks the latter against `config`. `location` is for error messages.
    pub fn from_copy_options(options: &HashMap<String, String>, config: &ConfigOptions, location: &str) -> Result<Self> {
        let mut mode = SaveMode::ErrorIfExists;
        let mut format = BTreeMap::new();
        for (key, value) in options {
            if key == MODE_KEY {
                mode = SaveMode::parse(value).ok_or_else(|| {
                    plan_error(location, format!("unknown mode '{value}': expected 'errorifexists' (the default), 'overwrite' or 'append'"))
                })?;
            } else if key.starts_with("format.") {
                format.insert(key.clone(), value.clone());
            } else {
                return Err(plan_error(
                    location,
                    format!("option '{key}' is not supported by verger's Parquet output; Parquet options are accepted"),
                ));
            }
        }
        format.entry(COMPRESSION_KEY.to_owned()).or_insert_with(|| SPARK_COMPRESSION.to_owned());
        let options = Self { mode, format };
        options.writer_properties(config).map_err(|e| plan_error(location, e.to_string()))?;
        Ok(options)
    }

    /// The Parquet writer's properties: the session's Parquet settings, then these options.
    pub fn writer_properties(&self, config: &ConfigOptions) -> Result<WriterProperties> {
        let mut table_options = TableOptions::default_from_session_config(config);
        table_options.set_config_format(ConfigFileType::PARQUET);
        let format: HashMap<String, String> = self.format.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        table_options.alter_with_string_hash_map(&format)?;
        // The Arrow writer embeds the Arrow schema itself.
        table_options.parquet.global.skip_arrow_metadata = true;
        Ok(ParquetWriterOptions::try_from(&table_options.parquet)?.writer_options().clone())
    }

    /// [`Self::writer_properties`] for files of `schema`: unless the options say otherwise,
    /// floating-point columns are written without a dictionary. Feature vectors hold
    /// distinct values, so the writer would hash every one of them into a dictionary (≈ 10 %
    /// of the job after the CNN), only to fall back to plain encoding once the dictionary
    /// outgrows its page; the files hold the same values either way.
    pub fn writer_properties_for(&self, config: &ConfigOptions, schema: &Schema) -> Result<WriterProperties> {
        let properties = self.writer_properties(config)?;
        if self.format.keys().any(|key| key.starts_with(DICTIONARY_KEY)) {
            return Ok(properties);
        }
        let columns = ArrowSchemaConverter::new().convert(schema)?;
        let floats: Vec<ColumnPath> = columns
            .columns()
            .iter()
            .filter(|column| matches!(column.physical_type(), PhysicalType::FLOAT | PhysicalType::DOUBLE))
            .map(|column| column.path().clone())
            .collect();
        if floats.is_empty() {
            return Ok(properties);
        }
        Ok(floats.into_iter().fold(properties.into_builder(), |builder, path| builder.set_column_dictionary_enabled(path, false)).build())
    }

    /// The codec part of a file name, as in Spark's `part-00000-….snappy.parquet`.
    pub fn file_suffix(&self) -> String {
        let codec = self
            .format
            .get(COMPRESSION_KEY)
            .map(|c| c.split('(').next().unwrap_or_default().trim().to_ascii_lowercase())
            .unwrap_or_default();
        match codec.as_str() {
            "" | "uncompressed" => "parquet".to_owned(),
            codec => format!("{codec}.parquet"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn options(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn defaults_are_sparks() -> Result<()> {
        let parsed = WriteOptions::from_copy_options(&options(&[]), &ConfigOptions::new(), "out")?;
        assert_eq!(parsed.mode, SaveMode::ErrorIfExists);
        assert_eq!(parsed.file_suffix(), "snappy.parquet");
        Ok(())
    }

    #[test]
    fn mode_and_compression_are_read() -> Result<()> {
        let parsed = WriteOptions::from_copy_options(
            &options(&[("format.mode", "Overwrite"), ("format.compression", "zstd(3)")]),
            &ConfigOptions::new(),
            "out",
        )?;
        assert_eq!(parsed.mode, SaveMode::Overwrite);
        assert_eq!(parsed.file_suffix(), "zstd.parquet");
        assert!(!parsed.format.contains_key("format.mode"));
        Ok(())
    }

    #[test]
    fn float_columns_skip_the_dictionary_unless_asked() -> Result<()> {
        use datafusion::arrow::datatypes::{DataType, Field};
        let list = DataType::List(Arc::new(Field::new_list_field(DataType::Float64, true)));
        let schema = Schema::new(vec![
            Field::new("label", DataType::Utf8, true),
            Field::new("pca_features", list, true),
            Field::new("x", DataType::Float32, true),
        ]);
        let config = ConfigOptions::new();
        let default = WriteOptions::from_copy_options(&options(&[]), &config, "out")?.writer_properties_for(&config, &schema)?;
        let path = |p: &str| ColumnPath::from(p.split('.').map(str::to_owned).collect::<Vec<_>>());
        assert!(default.dictionary_enabled(&path("label")));
        assert!(!default.dictionary_enabled(&path("pca_features.list.item")));
        assert!(!default.dictionary_enabled(&path("x")));
        let asked = WriteOptions::from_copy_options(&options(&[("format.dictionary_enabled", "true")]), &config, "out")?
            .writer_properties_for(&config, &schema)?;
        assert!(asked.dictionary_enabled(&path("x")));
        Ok(())
    }

    #[test]
    fn bad_options_are_plan_errors() {
        let config = ConfigOptions::new();
        let unknown_mode = WriteOptions::from_copy_options(&options(&[("format.mode", "sometimes")]), &config, "out");
        assert!(unknown_mode.is_err_and(|e| e.to_string().contains("unknown mode 'sometimes'")));
        let unknown_option = WriteOptions::from_copy_options(&options(&[("format.no_such_option", "1")]), &config, "out");
        assert!(unknown_option.is_err_and(|e| e.to_string().contains("COPY TO out")));
        let other_namespace = WriteOptions::from_copy_options(&options(&[("execution.keep_partition_by_columns", "true")]), &config, "out");
        assert!(other_namespace.is_err_and(|e| e.to_string().contains("not supported")));
    }
}
