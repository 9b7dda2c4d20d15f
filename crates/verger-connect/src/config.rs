//! The Config RPC: Spark's settings as PySpark reads and writes them, mapped onto the
//! session's DataFusion and verger settings where they mean the same thing.

use crate::error::{ConnectError, ConnectResult};
use crate::proto::{KeyValue, config_request};
use crate::session::Session;
use std::collections::BTreeMap;

/// Spark settings that are a verger or DataFusion setting under another name.
const MAPPED: &[(&str, &str)] = &[
    ("spark.sql.session.timeZone", "datafusion.execution.time_zone"),
    ("spark.sql.shuffle.partitions", "datafusion.execution.target_partitions"),
    ("spark.sql.ansi.enabled", "datafusion.execution.enable_ansi_mode"),
    ("spark.hadoop.fs.s3a.access.key", "s3.access_key_id"),
    ("spark.hadoop.fs.s3a.secret.key", "s3.secret_access_key"),
    ("spark.hadoop.fs.s3a.session.token", "s3.session_token"),
    ("spark.hadoop.fs.s3a.endpoint", "s3.endpoint"),
    ("spark.hadoop.fs.s3a.endpoint.region", "s3.region"),
];

/// Settings whose values are never shown: `conf.get` answers Spark's redaction.
const SECRET_SUFFIXES: &[&str] = &["secret.key", "session.token", "access.key", "secret_access_key", "session_token", "access_key_id"];
const REDACTED: &str = "*********(redacted)";

/// The values PySpark asks for and Spark has by default: answered so that the client takes
/// the paths verger serves (no plan compression; local data inline up to the message limit).
const SPARK_DEFAULTS: &[(&str, &str)] = &[
    ("spark.api.mode", "connect"),
    ("spark.connect.session.planCompression.threshold", "-1"),
    ("spark.connect.session.planCompression.defaultAlgorithm", "NONE"),
    ("spark.sql.timestampType", "TIMESTAMP_LTZ"),
    ("spark.sql.session.localRelationCacheThreshold", "134217728"),
    ("spark.sql.session.localRelationSizeLimit", "134217728"),
    ("spark.sql.session.localRelationChunkSizeRows", "10000"),
    ("spark.sql.session.localRelationChunkSizeBytes", "16777216"),
    ("spark.sql.session.localRelationBatchOfChunksSizeBytes", "134217728"),
    ("spark.sql.execution.pandas.convertToArrowArraySafely", "false"),
    ("spark.sql.execution.pandas.inferPandasDictAsMap", "false"),
    ("spark.sql.execution.pandas.structHandlingMode", "legacy"),
    ("spark.sql.execution.pyspark.binaryAsBytes", "true"),
    ("spark.sql.execution.arrow.pyspark.enabled", "true"),
    ("spark.sql.execution.arrow.pyspark.selfDestruct.enabled", "false"),
    ("spark.sql.execution.arrow.useLargeVarTypes", "false"),
    ("spark.sql.execution.pythonUDF.arrow.enabled", "false"),
    ("spark.sql.execution.pythonUDTF.arrow.enabled", "false"),
    ("spark.sql.pyspark.inferNestedDictAsStruct.enabled", "false"),
    ("spark.sql.pyspark.legacy.inferArrayTypeFromFirstElement.enabled", "false"),
    ("spark.sql.pyspark.legacy.inferMapTypeFromFirstPair.enabled", "false"),
    ("spark.sql.pyspark.jvmStacktrace.enabled", "false"),
    ("spark.sql.connect.serverStacktrace.enabled", "false"),
    ("spark.sql.repl.eagerEval.enabled", "false"),
    ("spark.sql.repl.eagerEval.maxNumRows", "20"),
    ("spark.sql.repl.eagerEval.truncate", "20"),
    ("spark.sql.caseSensitive", "false"),
];

/// Settings the client may not change in a running session.
const STATIC: &[&str] = &["spark.api.mode", "spark.master", "spark.app.name", "spark.connect.session.planCompression.threshold"];

fn mapped(key: &str) -> Option<&'static str> {
    MAPPED.iter().find(|(spark, _)| *spark == key).map(|(_, ours)| *ours)
}

fn is_secret(key: &str) -> bool {
    SECRET_SUFFIXES.iter().any(|suffix| key.ends_with(suffix))
}

fn is_engine_key(key: &str) -> bool {
    key.starts_with("verger.") || key.starts_with("s3.") || key.starts_with("datafusion.")
}

/// Spark's value of a DataFusion setting (DataFusion keeps the time zone unset for UTC).
fn spark_value(spark_key: &str, value: Option<String>) -> Option<String> {
    match (spark_key, value) {
        ("spark.sql.session.timeZone", None) => Some("UTC".to_owned()),
        (_, value) => value,
    }
}

/// A session's Config requests.
pub struct SessionConf<'a> {
    pub session: &'a Session,
}

impl SessionConf<'_> {
    /// The value of `key`, or None when the session has none.
    pub fn get(&self, key: &str) -> ConnectResult<Option<String>> {
        let value = if let Some(ours) = mapped(key) {
            spark_value(key, self.session.engine_setting(ours))
        } else if is_engine_key(key) {
            self.session.engine_setting(key)
        } else {
            self.session
                .spark_settings()
                .get(key)
                .cloned()
                .or_else(|| SPARK_DEFAULTS.iter().find(|(k, _)| *k == key).map(|(_, v)| (*v).to_owned()))
        };
        Ok(value.map(|v| if is_secret(key) && !v.is_empty() { REDACTED.to_owned() } else { v }))
    }

    pub fn set(&self, key: &str, value: &str) -> ConnectResult<()> {
        if STATIC.contains(&key) {
            return Err(ConnectError::analysis(format!(
                "[CANNOT_MODIFY_STATIC_CONFIG] Cannot modify the value of the static Spark config: \"{key}\"."
            )));
        }
        if is_secret(key) {
            verger::register_secret(value);
        }
        if let Some(ours) = mapped(key) {
            // Spark's values mean the same to DataFusion (time zone names and offsets,
            // partition counts, booleans).
            self.session.set_engine_setting(ours, value)?;
            if ours.starts_with("s3.") && key.ends_with("endpoint") && value.starts_with("http://") {
                self.session.set_engine_setting("s3.allow_http", "true")?;
            }
        } else if is_engine_key(key) {
            self.session.set_engine_setting(key, value)?;
        }
        self.session.spark_settings().insert(key.to_owned(), value.to_owned());
        Ok(())
    }

    pub fn unset(&self, key: &str) -> ConnectResult<()> {
        self.session.spark_settings().remove(key);
        if let Some(ours) = mapped(key).or(is_engine_key(key).then_some(key)) {
            self.session.reset_engine_setting(ours)?;
        }
        Ok(())
    }

    fn all(&self, prefix: Option<&str>) -> ConnectResult<Vec<KeyValue>> {
        let mut all: BTreeMap<String, String> = SPARK_DEFAULTS.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        for (key, value) in self.session.engine_settings() {
            if key.starts_with("verger.") || key.starts_with("s3.") {
                all.insert(key, value);
            }
        }
        for (spark, _) in MAPPED {
            if let Some(value) = self.get(spark)? {
                all.insert((*spark).to_owned(), value);
            }
        }
        all.extend(self.session.spark_settings().clone());
        Ok(all
            .into_iter()
            .filter(|(key, _)| prefix.is_none_or(|p| key.starts_with(p)))
            .map(|(key, value)| {
                let value = if is_secret(&key) && !value.is_empty() { REDACTED.to_owned() } else { value };
                KeyValue { key, value: Some(value) }
            })
            .collect())
    }

    /// Answers one Config operation.
    pub fn apply(&self, operation: config_request::operation::OpType) -> ConnectResult<(Vec<KeyValue>, Vec<String>)> {
        use config_request::operation::OpType;
        let mut warnings = Vec::new();
        let pairs = match operation {
            OpType::Set(set) => {
                for pair in set.pairs {
                    let value = pair.value.unwrap_or_default();
                    if !is_engine_key(&pair.key) && mapped(&pair.key).is_none() && !pair.key.starts_with("spark.") {
                        warnings.push(format!("'{}' is not a Spark or verger setting; it is kept but has no effect", pair.key));
                    }
                    self.set(&pair.key, &value)?;
                }
                Vec::new()
            }
            OpType::Get(get) => get
                .keys
                .into_iter()
                .map(|key| {
                    let value = self.get(&key)?.ok_or_else(|| ConnectError::Handle {
                        message: format!("[SQL_CONF_NOT_FOUND] The SQL config \"{key}\" cannot be found."),
                        error_class: "SQL_CONF_NOT_FOUND",
                    })?;
                    Ok(KeyValue { key, value: Some(value) })
                })
                .collect::<ConnectResult<_>>()?,
            OpType::GetWithDefault(get) => get
                .pairs
                .into_iter()
                .map(|pair| {
                    let value = self.get(&pair.key)?.or(pair.value);
                    Ok(KeyValue { key: pair.key, value })
                })
                .collect::<ConnectResult<_>>()?,
            OpType::GetOption(get) => {
                get.keys.into_iter().map(|key| Ok(KeyValue { value: self.get(&key)?, key })).collect::<ConnectResult<_>>()?
            }
            OpType::GetAll(all) => self.all(all.prefix.as_deref())?,
            OpType::Unset(unset) => {
                for key in unset.keys {
                    self.unset(&key)?;
                }
                Vec::new()
            }
            OpType::IsModifiable(keys) => {
                keys.keys.into_iter().map(|key| KeyValue { value: Some((!STATIC.contains(&key.as_str())).to_string()), key }).collect()
            }
        };
        Ok((pairs, warnings))
    }
}
