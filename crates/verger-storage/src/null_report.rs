//! The rows that became NULL under `verger.images.on_error = 'null'`, reported to the client
//! that ran the query, whichever process made them.
//!
//! A NULL made on an executor would otherwise be known only to that executor's log. So the
//! client gives each statement a folder ([`NullReport::begin`]), named by the setting
//! `verger.null_report.dir`, which travels with the session's settings to the scheduler and
//! every executor; each process that turns rows into NULL writes one small JSON object
//! there per batch ([`report_nulls`]); when the statement ends, the client reads the folder
//! — counting the rows and naming some of the files — and deletes it
//! ([`NullReport::finish`]). The folder lives where `verger.materialize.dir` says, the
//! storage that every process of a cluster already shares.
//!
//! An object's name hashes what it reports, so a task that Ballista retries writes the same
//! rows under the same name: a retry does not count twice.

use crate::location::StorageLocation;
use crate::registry::object_store_for;
use datafusion::common::{DataFusionError, Result};
use datafusion::config::ConfigOptions;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use std::collections::BTreeSet;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use verger_config::{OnError, VergerConfig};

/// One row that became NULL: the function or source that gave up on it, the file when known,
/// and why.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct NullRow {
    pub path: Option<String>,
    pub source: String,
    pub reason: String,
}

/// Files a summary names; the count covers every row.
pub const NAMED_FILES: usize = 5;
const REPORT_FOLDER: &str = "verger-null-report";

fn report_error(message: impl Into<String>) -> DataFusionError {
    DataFusionError::Execution(format!("verger.null_report.dir: {}", message.into()))
}

/// The local directory of a location on the local file system.
fn local_dir(location: &StorageLocation) -> Option<std::path::PathBuf> {
    location.bucket().is_none().then(|| std::path::PathBuf::from(format!("/{}", location.object_path().as_ref())))
}

/// Hands `rows` to the statement's report when the client asked for one
/// (`verger.null_report.dir`); returns whether it did. Callers log the rows themselves when it
/// did not — a library user without a report still sees them in the log. A report that
/// cannot be written is logged, never a reason to fail the query.
pub fn report_nulls(options: &ConfigOptions, rows: &[NullRow]) -> bool {
    let dir = VergerConfig::from_options(options).null_report_dir;
    if dir.is_empty() || rows.is_empty() {
        return false;
    }
    match write_report(&dir, options, rows) {
        Ok(()) => true,
        Err(e) => {
            log::warn!("could not report {} NULL row(s) to the client: {e}", rows.len());
            false
        }
    }
}

fn write_report(dir: &str, options: &ConfigOptions, rows: &[NullRow]) -> Result<()> {
    let location = StorageLocation::parse(dir).map_err(|e| report_error(e.to_string()))?;
    let mut hasher = std::hash::DefaultHasher::new();
    rows.hash(&mut hasher);
    let name = format!("{:016x}.json", hasher.finish());
    let bytes = serde_json::to_vec(rows).map_err(|e| report_error(e.to_string()))?;
    if let Some(local) = local_dir(&location) {
        std::fs::create_dir_all(&local).map_err(|e| report_error(format!("cannot create {}: {e}", local.display())))?;
        // Written whole, then renamed: the client never reads half an object.
        let staged = local.join(format!(".{name}.{}", std::process::id()));
        std::fs::write(&staged, &bytes)
            .and_then(|()| std::fs::rename(&staged, local.join(&name)))
            .map_err(|e| report_error(e.to_string()))?;
        return Ok(());
    }
    let store = object_store_for(&location, options)?;
    let path = location.object_path().join(name);
    put_blocking(store, path, bytes)
}

/// A PUT from synchronous code (a scalar function, a blocking read): on the caller's runtime
/// when it has worker threads to spare, else on a runtime of its own.
fn put_blocking(store: Arc<dyn ObjectStore>, path: Path, bytes: Vec<u8>) -> Result<()> {
    let put = async move { store.put(&path, PutPayload::from(bytes)).await.map(|_| ()).map_err(|e| report_error(e.to_string())) };
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| handle.block_on(put))
        }
        _ => std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let runtime =
                        tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| report_error(e.to_string()))?;
                    runtime.block_on(put)
                })
                .join()
                .map_err(|_| report_error("the report writer panicked"))?
        }),
    }
}

/// One statement's report folder, on the client.
#[derive(Debug)]
pub struct NullReport {
    dir: String,
}

/// What a statement's report holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NullSummary {
    /// Values that became NULL (a file read by two image functions counts twice).
    pub rows: usize,
    /// Distinct files among them.
    pub files: usize,
    /// The first [`NAMED_FILES`] rows, by path.
    pub named: Vec<NullRow>,
}

impl NullReport {
    /// A fresh folder for the next statement when the session turns bad images into NULLs
    /// (`verger.images.on_error = 'null'`), else `None`. The caller sets
    /// `verger.null_report.dir` to [`NullReport::dir`] for the statement.
    pub fn begin(options: &ConfigOptions) -> Option<Self> {
        let config = VergerConfig::from_options(options);
        if config.images_on_error != OnError::Null {
            return None;
        }
        let base = if config.materialize_dir.is_empty() {
            std::env::temp_dir().to_string_lossy().into_owned()
        } else {
            config.materialize_dir.trim_end_matches('/').to_owned()
        };
        Some(Self { dir: format!("{base}/{REPORT_FOLDER}/{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()) })
    }

    pub fn dir(&self) -> &str {
        &self.dir
    }

    /// Reads what the statement's processes reported, then deletes the folder.
    pub async fn finish(self, options: &ConfigOptions) -> Result<NullSummary> {
        let location = StorageLocation::parse(&self.dir).map_err(|e| report_error(e.to_string()))?;
        let store = object_store_for(&location, options)?;
        let prefix = location.object_path();
        let objects: Vec<_> = match local_dir(&location) {
            // Nothing reported: the folder was never made.
            Some(local) if !local.exists() => Vec::new(),
            _ => store.list(Some(&prefix)).try_collect().await?,
        };
        let mut rows = BTreeSet::new();
        for object in &objects {
            if object.location.filename().is_none_or(|name| name.starts_with('.')) {
                continue;
            }
            let bytes = store.get(&object.location).await?.bytes().await?;
            let batch: Vec<NullRow> = serde_json::from_slice(&bytes).map_err(|e| report_error(format!("{}: {e}", object.location)))?;
            // A batch reported twice (a retried task) has the same object name; rows of
            // distinct batches are distinct values, even for one file.
            rows.extend(batch.into_iter().enumerate().map(|(i, row)| (row, object.location.to_string(), i)));
        }
        match local_dir(&location) {
            Some(local) => {
                if local.exists() {
                    std::fs::remove_dir_all(&local).map_err(|e| report_error(format!("cannot remove {}: {e}", local.display())))?;
                }
                // The reports' folder too, once no other statement uses it (fails otherwise).
                if let Some(parent) = local.parent() {
                    let _ = std::fs::remove_dir(parent);
                }
            }
            None => {
                let paths = futures::stream::iter(objects.into_iter().map(|o| Ok(o.location))).boxed();
                store.delete_stream(paths).try_collect::<Vec<_>>().await?;
            }
        }
        let files: BTreeSet<&str> = rows.iter().filter_map(|(row, _, _)| row.path.as_deref()).collect();
        let files = files.len();
        let mut named: Vec<NullRow> = Vec::new();
        for (row, _, _) in &rows {
            if named.len() == NAMED_FILES {
                break;
            }
            if !named.iter().any(|n| n.path.is_some() && n.path == row.path) {
                named.push(row.clone());
            }
        }
        Ok(NullSummary { rows: rows.len(), files, named })
    }
}

impl fmt::Display for NullSummary {
    /// "2 values became NULL (verger.images.on_error = 'null'), from 2 files:" and a line per
    /// named file.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        write!(f, "{} NULL (verger.images.on_error = 'null')", plural(self.rows, "value became", "values became"))?;
        if self.files > 0 {
            write!(f, ", from {}", plural(self.files, "file", "files"))?;
        }
        f.write_str(":")?;
        for row in &self.named {
            // One line a file: decoders' messages may end with a line break.
            let reason = row.reason.split_whitespace().collect::<Vec<_>>().join(" ");
            match &row.path {
                Some(path) if !reason.contains(path.as_str()) => write!(f, "\n  {path}: {}: {reason}", row.source)?,
                _ => write!(f, "\n  {}: {reason}", row.source)?,
            }
        }
        let unnamed = self.rows.saturating_sub(self.named.len());
        if unnamed > 0 {
            write!(f, "\n  … and {unnamed} more")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options_with(dir: &str) -> Result<ConfigOptions> {
        let mut options = ConfigOptions::new();
        options.extensions.insert(VergerConfig::default());
        options.set("verger.images.on_error", "null")?;
        options.set("verger.materialize.dir", dir)?;
        Ok(options)
    }

    fn row(path: &str, reason: &str) -> NullRow {
        NullRow { path: Some(path.to_owned()), source: "image_features".to_owned(), reason: reason.to_owned() }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reported_rows_are_counted_once_named_and_removed() -> Result<()> {
        let temp = tempfile::tempdir().map_err(|e| DataFusionError::External(Box::new(e)))?;
        let mut options = options_with(&temp.path().to_string_lossy())?;
        assert!(!report_nulls(&options, &[row("/a.png", "x")]), "no report asked for: the caller logs");
        let report = NullReport::begin(&options).ok_or_else(|| report_error("no report under on_error = 'null'"))?;
        options.set("verger.null_report.dir", report.dir())?;
        let batch = [row("/b.png", "cannot decode"), row("/a.png", "truncated")];
        assert!(report_nulls(&options, &batch));
        // The same batch again, as a retried task writes it.
        assert!(report_nulls(&options, &batch));
        let lots: Vec<NullRow> = (0..7).map(|i| row(&format!("/c{i}.png"), "empty file")).collect();
        assert!(tokio::task::spawn_blocking(move || report_nulls(&options, &lots)).await.unwrap_or(false));
        let summary = report.finish(&options_with(&temp.path().to_string_lossy())?).await?;
        assert_eq!((summary.rows, summary.files, summary.named.len()), (9, 9, NAMED_FILES));
        assert_eq!(summary.named[0].path.as_deref(), Some("/a.png"));
        let text = summary.to_string();
        assert!(
            text.starts_with("9 values became NULL (verger.images.on_error = 'null'), from 9 files:\n  /a.png: image_features: truncated"),
            "{text}"
        );
        assert!(text.ends_with("\n  … and 4 more"), "{text}");
        assert!(!temp.path().join(REPORT_FOLDER).exists(), "the statement's folder is left behind");
        Ok(())
    }

    #[test]
    fn no_report_under_the_fail_policy() {
        let mut options = ConfigOptions::new();
        options.extensions.insert(VergerConfig::default());
        assert!(NullReport::begin(&options).is_none());
    }
}
