//! [`ParquetCommitExec`]: the job commit, run once after every part is staged.
//!
//! Order matters: `_SUCCESS` goes first (the output stops looking complete), then what the
//! mode replaces, then the staged files move into place, then the manifest and, last,
//! `_SUCCESS`. A failure at any step leaves no `_SUCCESS`; a failure before this step leaves
//! the previous output untouched. Each step tolerates having been done already, so a
//! commit task that Ballista runs again finishes the same commit.

use crate::error::commit_error;
use crate::layout::{MANIFEST_NAME, SUCCESS_MARKER, TEMPORARY_DIR, committed_file_name, is_hidden, staging_dir};
use crate::node::summary_schema;
use crate::options::{SaveMode, WriteOptions};
use datafusion::arrow::array::{AsArray, RecordBatch, UInt64Array};
use datafusion::arrow::datatypes::{SchemaRef, UInt32Type, UInt64Type};
use datafusion::common::Result;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::DataFusionError;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::parquet::arrow::AsyncArrowWriter;
use datafusion::parquet::file::properties::WriterProperties;
use datafusion::physical_expr::{Distribution, EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties};
use futures::TryStreamExt;
use object_store::buffered::BufWriter;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use std::fmt;
use std::sync::Arc;
use verger_storage::{Scheme, StorageLocation, object_store_for};

/// One committed file, as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CommittedFile {
    pub name: String,
    pub rows: u64,
    pub bytes: u64,
}

/// `_verger_manifest.json`: what the last commit wrote, and when.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    pub job_id: String,
    pub mode: SaveMode,
    /// When the client planned the job and when the commit finished (RFC 3339, UTC).
    pub started_at: String,
    pub committed_at: String,
    pub elapsed_seconds: f64,
    pub rows: u64,
    pub bytes: u64,
    pub files: Vec<CommittedFile>,
    pub writer: String,
}

/// Reads the manifest of a committed output; `None` when the output has none.
pub async fn read_manifest(store: &dyn ObjectStore, output: &Path) -> Result<Option<Manifest>> {
    let path = output.clone().join(MANIFEST_NAME);
    match store.get(&path).await {
        Ok(found) => {
            let bytes = found.bytes().await.map_err(|e| commit_error(path.to_string(), e.to_string()))?;
            serde_json::from_slice(&bytes).map(Some).map_err(|e| commit_error(path.to_string(), format!("not a verger manifest: {e}")))
        }
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(commit_error(path.to_string(), e.to_string())),
    }
}

/// A file a write task staged.
#[derive(Debug, Clone)]
struct StagedFile {
    name: String,
    partition: u32,
    rows: u64,
    bytes: u64,
}

fn staged_files(batches: &[RecordBatch]) -> Result<Vec<StagedFile>> {
    let mut files = Vec::new();
    for batch in batches {
        let column = |i: usize| batch.column(i);
        let (names, partitions, rows, bytes) = (
            column(0).as_string_opt::<i32>(),
            column(1).as_primitive_opt::<UInt32Type>(),
            column(2).as_primitive_opt::<UInt64Type>(),
            column(3).as_primitive_opt::<UInt64Type>(),
        );
        let (Some(names), Some(partitions), Some(rows), Some(bytes)) = (names, partitions, rows, bytes) else {
            return Err(DataFusionError::Internal("the part writers' report has an unexpected schema".to_owned()));
        };
        for i in 0..batch.num_rows() {
            files.push(StagedFile {
                name: names.value(i).to_owned(),
                partition: partitions.value(i),
                rows: rows.value(i),
                bytes: bytes.value(i),
            });
        }
    }
    files.sort_by(|a, b| (a.partition, &a.name).cmp(&(b.partition, &b.name)));
    Ok(files)
}

/// Everything a commit needs besides the staged files.
#[derive(Debug, Clone)]
struct CommitJob {
    output: StorageLocation,
    job_id: String,
    options: WriteOptions,
    data_schema: SchemaRef,
    started_at_ms: i64,
}

impl CommitJob {
    fn error(&self, message: impl Into<String>) -> DataFusionError {
        commit_error(self.output.to_string(), message)
    }

    async fn delete(&self, store: &dyn ObjectStore, path: &Path) -> Result<()> {
        match store.delete(path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.error(format!("cannot delete {path}: {e}"))),
        }
    }

    async fn run(&self, store: Arc<dyn ObjectStore>, files: Vec<StagedFile>, properties: WriterProperties) -> Result<Manifest> {
        let base = self.output.object_path();
        let staging = staging_dir(&base, &self.job_id);
        let suffix = self.options.file_suffix();
        let ours = |name: &str| name.contains(&self.job_id);

        let listed: Vec<Path> = store
            .list(Some(&base))
            .map_ok(|meta| meta.location)
            .try_collect()
            .await
            .map_err(|e| self.error(format!("cannot list: {e}")))?;
        let data: Vec<&Path> = listed.iter().filter(|p| !is_hidden(&base, p) && !p.filename().is_some_and(ours)).collect();
        if self.options.mode == SaveMode::ErrorIfExists && !data.is_empty() {
            return Err(self.error(format!(
                "the output already holds {} file(s) and the mode is 'errorifexists' (Spark's default); \
                 write with OPTIONS ('mode' 'overwrite') to replace them or 'append' to add to them",
                data.len()
            )));
        }

        self.delete(store.as_ref(), &base.clone().join(SUCCESS_MARKER)).await?;
        if self.options.mode == SaveMode::Overwrite {
            for path in listed.iter().filter(|p| !p.prefix_matches(&staging) && !p.filename().is_some_and(ours)) {
                self.delete(store.as_ref(), path).await?;
            }
        }

        let mut committed = Vec::with_capacity(files.len().max(1));
        for (index, file) in files.iter().enumerate() {
            let (from, name) = (staging.clone().join(file.name.as_str()), committed_file_name(index, &self.job_id, &suffix));
            let to = base.clone().join(name.as_str());
            match store.rename(&from, &to).await {
                Ok(()) => {}
                // Moved by an earlier run of this commit.
                Err(object_store::Error::NotFound { .. }) if store.head(&to).await.is_ok() => {}
                Err(e) => return Err(self.error(format!("cannot move {from} to {to}: {e}"))),
            }
            committed.push(CommittedFile { name, rows: file.rows, bytes: file.bytes });
        }
        if committed.is_empty() {
            // No rows: one empty file still tells readers the schema, as Spark writes.
            let name = committed_file_name(0, &self.job_id, &suffix);
            let path = base.clone().join(name.as_str());
            let writer = AsyncArrowWriter::try_new(
                BufWriter::new(Arc::clone(&store), path.clone()),
                Arc::clone(&self.data_schema),
                Some(properties),
            )?;
            writer.close().await.map_err(|e| self.error(format!("cannot write {path}: {e}")))?;
            let bytes = store.head(&path).await.map_err(|e| self.error(format!("{path}: {e}")))?.size;
            committed.push(CommittedFile { name, rows: 0, bytes });
        }

        // Files of failed or retried attempts, never committed.
        let leftovers: Vec<Path> = store.list(Some(&staging)).map_ok(|meta| meta.location).try_collect().await.unwrap_or_default();
        for path in &leftovers {
            self.delete(store.as_ref(), path).await?;
        }
        if let Scheme::Local = self.output.scheme() {
            let temporary = std::path::PathBuf::from(format!("/{base}")).join(TEMPORARY_DIR);
            let _ = tokio::fs::remove_dir_all(temporary.join(&self.job_id)).await;
            let _ = tokio::fs::remove_dir(&temporary).await;
        }

        let now = chrono::Utc::now();
        let started = chrono::DateTime::from_timestamp_millis(self.started_at_ms).unwrap_or(now);
        let manifest = Manifest {
            job_id: self.job_id.clone(),
            mode: self.options.mode,
            started_at: started.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            committed_at: now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            elapsed_seconds: (now - started).num_milliseconds().max(0) as f64 / 1000.0,
            rows: committed.iter().map(|f| f.rows).sum(),
            bytes: committed.iter().map(|f| f.bytes).sum(),
            files: committed,
            writer: format!("verger {}", env!("CARGO_PKG_VERSION")),
        };
        let json = serde_json::to_vec_pretty(&manifest).map_err(|e| self.error(e.to_string()))?;
        store
            .put(&base.clone().join(MANIFEST_NAME), PutPayload::from(json))
            .await
            .map_err(|e| self.error(format!("cannot write the manifest: {e}")))?;
        store
            .put(&base.clone().join(SUCCESS_MARKER), PutPayload::default())
            .await
            .map_err(|e| self.error(format!("cannot write _SUCCESS: {e}")))?;
        log::info!("committed {} rows in {} files to {}", manifest.rows, manifest.files.len(), self.output);
        Ok(manifest)
    }
}

/// Commits a job's staged files (its input: the part writers' reports, in one partition)
/// and returns one row: rows, files and bytes committed.
#[derive(Debug)]
pub struct ParquetCommitExec {
    input: Arc<dyn ExecutionPlan>,
    job: CommitJob,
    properties: Arc<PlanProperties>,
}

impl ParquetCommitExec {
    pub fn new(
        input: Arc<dyn ExecutionPlan>,
        output: StorageLocation,
        job_id: String,
        options: WriteOptions,
        data_schema: SchemaRef,
        started_at_ms: i64,
    ) -> Self {
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(Arc::new(summary_schema())),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Final,
            Boundedness::Bounded,
        ));
        Self { input, job: CommitJob { output, job_id, options, data_schema, started_at_ms }, properties }
    }

    pub fn output(&self) -> &StorageLocation {
        &self.job.output
    }

    pub fn job_id(&self) -> &str {
        &self.job.job_id
    }

    pub fn options(&self) -> &WriteOptions {
        &self.job.options
    }

    pub fn data_schema(&self) -> &SchemaRef {
        &self.job.data_schema
    }

    pub fn started_at_ms(&self) -> i64 {
        self.job.started_at_ms
    }
}

impl DisplayAs for ParquetCommitExec {
    fn fmt_as(&self, _format: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "ParquetCommitExec: {} mode={} job={}", self.job.output, self.job.options.mode, self.job.job_id)
    }
}

impl ExecutionPlan for ParquetCommitExec {
    fn name(&self) -> &str {
        "ParquetCommitExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn required_input_distribution(&self) -> Vec<Distribution> {
        vec![Distribution::SinglePartition]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    fn apply_expressions(&self, _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(self: Arc<Self>, mut children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        match children.pop() {
            Some(input) if children.is_empty() => {
                Ok(Arc::new(Self { input, job: self.job.clone(), properties: Arc::clone(&self.properties) }))
            }
            _ => Err(self.job.error("the commit takes one input")),
        }
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        if partition != 0 {
            return Err(self.job.error(format!("the commit has one partition, asked for {partition}")));
        }
        let config = context.session_config().options();
        let store = object_store_for(&self.job.output, config)?;
        let properties = self.job.options.writer_properties_for(config, &self.job.data_schema)?;
        let reports = self.input.execute(0, context)?;
        let job = self.job.clone();
        let commit = async move {
            let batches: Vec<RecordBatch> = reports.try_collect().await?;
            let files = staged_files(&batches)?;
            let manifest = job.run(store, files, properties).await?;
            Ok(RecordBatch::try_new(
                Arc::new(summary_schema()),
                vec![
                    Arc::new(UInt64Array::from(vec![manifest.rows])),
                    Arc::new(UInt64Array::from(vec![manifest.files.len() as u64])),
                    Arc::new(UInt64Array::from(vec![manifest.bytes])),
                ],
            )?)
        };
        Ok(Box::pin(RecordBatchStreamAdapter::new(Arc::new(summary_schema()), futures::stream::once(commit))))
    }
}
