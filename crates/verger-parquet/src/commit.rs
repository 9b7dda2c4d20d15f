//! [`ParquetCommitExec`]: the job commit, run once after every part is staged.
//!
//! The manifest (`_verger_manifest.json`, one PUT) is the atomic switch; no file a reader
//! may be reading is removed before it:
//!
//! 1. one LIST of the output and a GET of its manifest; `errorifexists` fails here;
//! 2. an output without a manifest gets one listing what it holds (nothing, or the Parquet
//!    files another writer left), so that readers following the manifest keep seeing that;
//! 3. `_SUCCESS` is removed: the directory stops being a whole output for plain readers;
//! 4. the staged files are copied in under names carrying the job id (a hard link locally);
//! 5. the new manifest is written: readers that follow it now see the new output whole;
//! 6. what no manifest lists is removed in bulk: the files it replaced (overwrite), the
//!    staged files, the orphans of interrupted commits;
//! 7. `_SUCCESS` is written: the directory holds exactly the manifest's files again.
//!
//! Each step tolerates having been done already, so a commit task that Ballista runs again
//! finishes the same commit, and the next job writing to the output clears what an
//! interrupted one left.

use crate::error::commit_error;
use crate::layout::{
    SUCCESS_MARKER, TEMPORARY_DIR, committed_file_name, is_committed_name, is_hidden, is_staged, is_top_level, staging_dir,
};
use crate::manifest::{CommittedFile, Manifest, read_manifest, write_manifest};
use crate::node::summary_schema;
use crate::options::{SaveMode, WriteOptions};
use datafusion::arrow::array::{AsArray, RecordBatch, UInt64Array};
use datafusion::arrow::datatypes::{SchemaRef, UInt32Type, UInt64Type};
use datafusion::common::Result;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::physical_plan::parquet::metadata::DFParquetMetadata;
use datafusion::error::DataFusionError;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::parquet::arrow::AsyncArrowWriter;
use datafusion::parquet::file::properties::WriterProperties;
use datafusion::physical_expr::{Distribution, EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties};
use futures::{StreamExt, TryStreamExt};
use object_store::buffered::BufWriter;
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt, PutPayload};
use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use verger_storage::{Scheme, StorageLocation, object_store_for};

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

    fn owns(&self, name: &str) -> bool {
        name.contains(&self.job_id)
    }

    fn manifest(&self, job_id: String, files: Vec<CommittedFile>) -> Manifest {
        let now = chrono::Utc::now();
        let started = chrono::DateTime::from_timestamp_millis(self.started_at_ms).unwrap_or(now);
        Manifest {
            job_id,
            mode: self.options.mode,
            started_at: started.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            committed_at: now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            elapsed_seconds: (now - started).num_milliseconds().max(0) as f64 / 1000.0,
            rows: files.iter().map(|f| f.rows).sum(),
            bytes: files.iter().map(|f| f.bytes).sum(),
            files,
            writer: format!("verger {}", env!("CARGO_PKG_VERSION")),
        }
    }

    /// The files of the output before this job, other than this job's own (a commit run
    /// again after its switch): the manifest's, or for an output without one, its Parquet
    /// files (their row counts read from their footers, once).
    async fn previous_files(
        &self,
        store: &Arc<dyn ObjectStore>,
        listed: &[ObjectMeta],
        current: Option<&Manifest>,
    ) -> Result<Vec<CommittedFile>> {
        let base = self.output.object_path();
        if let Some(manifest) = current {
            return Ok(manifest.files.iter().filter(|f| !self.owns(&f.name)).cloned().collect());
        }
        let found = listed.iter().filter(|meta| {
            is_top_level(&base, &meta.location)
                && !is_hidden(&base, &meta.location)
                && meta.location.filename().is_some_and(|name| name.ends_with(".parquet") && !self.owns(name))
        });
        let mut files = Vec::new();
        for meta in found {
            let footer = DFParquetMetadata::new(store.as_ref(), meta)
                .fetch_metadata()
                .await
                .map_err(|e| self.error(format!("cannot read {}: {e}", meta.location)))?;
            let name = meta.location.filename().unwrap_or_default().to_owned();
            files.push(CommittedFile { name, rows: u64::try_from(footer.file_metadata().num_rows()).unwrap_or(0), bytes: meta.size });
        }
        Ok(files)
    }

    /// Moves the staged files in, as a copy (a hard link on a local disk): their staged
    /// copies go with the clean-up's bulk delete, which saves a request per file on S3.
    async fn move_in(
        &self,
        store: &Arc<dyn ObjectStore>,
        files: &[StagedFile],
        properties: WriterProperties,
    ) -> Result<Vec<CommittedFile>> {
        let base = self.output.object_path();
        let staging = staging_dir(&base, &self.job_id);
        let suffix = self.options.file_suffix();
        let mut committed = Vec::with_capacity(files.len().max(1));
        for (index, file) in files.iter().enumerate() {
            let (from, name) = (staging.clone().join(file.name.as_str()), committed_file_name(index, &self.job_id, &suffix));
            let to = base.clone().join(name.as_str());
            match store.copy(&from, &to).await {
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
                BufWriter::new(Arc::clone(store), path.clone()),
                Arc::clone(&self.data_schema),
                Some(properties),
            )?;
            writer.close().await.map_err(|e| self.error(format!("cannot write {path}: {e}")))?;
            let bytes = store.head(&path).await.map_err(|e| self.error(format!("{path}: {e}")))?.size;
            committed.push(CommittedFile { name, rows: 0, bytes });
        }
        Ok(committed)
    }

    /// What no manifest lists once `manifest` is in place: every staged file (of this job,
    /// of its failed attempts, of jobs that never committed) and the top-level files of
    /// interrupted commits; under `overwrite`, everything else the output held too.
    fn obsolete(&self, listed: &[ObjectMeta], manifest: &Manifest) -> Vec<Path> {
        let base = self.output.object_path();
        let kept: HashSet<&str> = manifest.files.iter().map(|f| f.name.as_str()).collect();
        let keeps = |path: &Path| {
            is_top_level(&base, path)
                && path.filename().is_some_and(|name| kept.contains(name) || name == SUCCESS_MARKER || name == crate::MANIFEST_NAME)
        };
        listed
            .iter()
            .map(|meta| &meta.location)
            .filter(|path| !keeps(path))
            .filter(|path| {
                self.options.mode == SaveMode::Overwrite
                    || is_staged(&base, path)
                    || (is_top_level(&base, path) && path.filename().is_some_and(is_committed_name))
            })
            .cloned()
            .collect()
    }

    async fn delete_all(&self, store: &Arc<dyn ObjectStore>, paths: Vec<Path>) -> Result<()> {
        let mut deleted = store.delete_stream(futures::stream::iter(paths.into_iter().map(Ok)).boxed());
        while let Some(result) = deleted.next().await {
            match result {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(self.error(format!("cannot delete: {e}"))),
            }
        }
        Ok(())
    }

    async fn run(&self, store: Arc<dyn ObjectStore>, files: Vec<StagedFile>, properties: WriterProperties) -> Result<Manifest> {
        let base = self.output.object_path();
        log::info!("committing {} staged file(s) to {}", files.len(), self.output);
        // 1. What the output holds.
        let listed: Vec<ObjectMeta> = store.list(Some(&base)).try_collect().await.map_err(|e| self.error(format!("cannot list: {e}")))?;
        let current = read_manifest(store.as_ref(), &base).await?;
        let previous = self.previous_files(&store, &listed, current.as_ref()).await?;
        if self.options.mode == SaveMode::ErrorIfExists && !previous.is_empty() {
            return Err(self.error(format!(
                "the output already holds {} file(s) and the mode is 'errorifexists' (Spark's default); \
                 write with OPTIONS ('mode' 'overwrite') to replace them or 'append' to add to them",
                previous.len()
            )));
        }
        // 2. A manifest before anything moves in.
        if current.is_none() {
            write_manifest(store.as_ref(), &base, &self.manifest(String::new(), previous.clone())).await?;
        }
        // 3. The directory is no longer a whole output.
        match store.delete(&base.clone().join(SUCCESS_MARKER)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(self.error(format!("cannot delete {SUCCESS_MARKER}: {e}"))),
        }
        // 4. The new files, beside the old.
        let committed = self.move_in(&store, &files, properties).await?;
        // 5. The switch.
        let files = match self.options.mode {
            SaveMode::Append => previous.into_iter().chain(committed).collect(),
            SaveMode::Overwrite | SaveMode::ErrorIfExists => committed,
        };
        let manifest = self.manifest(self.job_id.clone(), files);
        write_manifest(store.as_ref(), &base, &manifest).await?;
        // 6. What no manifest lists.
        let obsolete = self.obsolete(&listed, &manifest);
        let staged_dirs: HashSet<std::path::PathBuf> = obsolete
            .iter()
            .filter(|path| is_staged(&base, path))
            .filter_map(|path| std::path::PathBuf::from(format!("/{path}")).parent().map(std::path::Path::to_path_buf))
            .collect();
        self.delete_all(&store, obsolete).await?;
        if let Scheme::Local = self.output.scheme() {
            // A local disk keeps the emptied folders: remove them, deepest first.
            let temporary = std::path::PathBuf::from(format!("/{base}")).join(TEMPORARY_DIR);
            let mut dirs: Vec<std::path::PathBuf> = staged_dirs.into_iter().collect();
            dirs.sort_by_key(|dir| std::cmp::Reverse(dir.components().count()));
            for dir in dirs {
                for empty in dir.ancestors().take_while(|d| d.starts_with(&temporary)) {
                    if tokio::fs::remove_dir(empty).await.is_err() {
                        break;
                    }
                }
            }
        }
        // 7. The directory is a whole output again.
        store
            .put(&base.clone().join(SUCCESS_MARKER), PutPayload::default())
            .await
            .map_err(|e| self.error(format!("cannot write {SUCCESS_MARKER}: {e}")))?;
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
