use crate::BinaryFileError;
use crate::file_list::{file_list_schema, from_batch};
use crate::listing::{ListedFile, object_path};
use crate::partition::{PartitionColumn, partition_value};
use crate::progress::ScanProgress;
use crate::schema::{CONTENT_INDEX, binary_file_schema};
use bytes::Bytes;
use datafusion::arrow::array::{
    ArrayRef, BinaryArray, Int64Array, RecordBatch, RecordBatchOptions, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::ScalarValue;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::config::ConfigOptions;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{Count, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet};
use datafusion::physical_plan::stream::{RecordBatchReceiverStream, RecordBatchStreamAdapter};
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties};
use futures::{StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::{ObjectStore, ObjectStoreExt};
use std::fmt;
use std::sync::Arc;
use verger_config::{OnError, VergerConfig};
use verger_storage::{NullRow, Scheme, StorageLocation, object_store_for, report_nulls};

/// Files read at once per partition: enough to hide S3 latency, few enough to bound memory.
const CONCURRENT_READS: usize = 8;
/// Local files read by one blocking task, at most, and their listed bytes, at most.
const LOCAL_READS_PER_TASK: usize = 32;
const MAX_LOCAL_TASK_BYTES: usize = 16 * 1024 * 1024;
/// Blocking read tasks under way at once per partition.
const LOCAL_TASKS_AHEAD: usize = 2;
/// A batch closes at this many content bytes even below the session's batch size, so that a
/// batch of large images stays a bounded amount of memory.
const MAX_BATCH_BYTES: usize = 64 * 1024 * 1024;
/// Rows per batch when the content is read: the next batch's files are fetched while the
/// current one is decoded and run through a model, and the first rows come out early.
const MAX_CONTENT_BATCH_ROWS: usize = 256;
/// Batches read ahead of the consumer, per partition.
const PREFETCH_BATCHES: usize = 2;

/// Reads the files named by its input (a file list, see `file_list`): one output row per
/// file, with the projected columns. Partition `i` reads the files of input partition `i`.
#[derive(Debug)]
pub struct BinaryFileScanExec {
    location: StorageLocation,
    partition_columns: Vec<PartitionColumn>,
    /// Indices into the table schema of the columns produced.
    projection: Vec<usize>,
    input: Arc<dyn ExecutionPlan>,
    projected_schema: SchemaRef,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl BinaryFileScanExec {
    pub fn try_new(
        location: StorageLocation,
        partition_columns: Vec<PartitionColumn>,
        projection: Vec<usize>,
        input: Arc<dyn ExecutionPlan>,
    ) -> Result<Self> {
        let expected = file_list_schema(partition_columns.len());
        if input.schema().fields() != expected.fields() {
            return Err(DataFusionError::Internal(format!(
                "BinaryFileScanExec needs a file list input of schema {expected:?}, got {:?}",
                input.schema()
            )));
        }
        let projected_schema = Arc::new(binary_file_schema(&partition_columns).project(&projection)?);
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&projected_schema)),
            Partitioning::UnknownPartitioning(input.properties().output_partitioning().partition_count()),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        Ok(Self { location, partition_columns, projection, input, projected_schema, properties, metrics: ExecutionPlanMetricsSet::new() })
    }

    pub fn location(&self) -> &StorageLocation {
        &self.location
    }

    pub fn partition_columns(&self) -> &[PartitionColumn] {
        &self.partition_columns
    }

    pub fn projection(&self) -> &[usize] {
        &self.projection
    }

    fn reads_content(&self) -> bool {
        self.projection.contains(&CONTENT_INDEX)
    }
}

impl DisplayAs for BinaryFileScanExec {
    fn fmt_as(&self, _format: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let columns: Vec<&str> = self.projected_schema.fields().iter().map(|f| f.name().as_str()).collect();
        write!(f, "BinaryFileScanExec: location={}, projection=[{}]", self.location, columns.join(", "))
    }
}

/// What a scan does with a file it cannot use: the max length and `verger.images.on_error`,
/// and the session's settings, where a NULL is reported.
pub(crate) struct ReadPolicy {
    max_length: u64,
    on_error: OnError,
    options: Arc<ConfigOptions>,
}

/// One file's row before it joins a batch; `content` is `None` when not read.
pub(crate) struct FileRow {
    pub file: ListedFile,
    pub content: Option<Bytes>,
}

/// A file's listed length against the max length, before it is read: `Ok` to read it, else
/// its outcome. A file over the limit fails the query, as in Spark, unless
/// `verger.images.on_error = 'null'`: then its row is kept with a NULL content.
fn check_listed_length(
    location: &StorageLocation,
    file: ListedFile,
    policy: &ReadPolicy,
) -> std::result::Result<ListedFile, Result<FileRow>> {
    let max_length = policy.max_length;
    if file.size <= max_length {
        return Ok(file);
    }
    let path = location.spark_path(&object_path(&file));
    let error = BinaryFileError::FileTooLong { path: path.clone(), length: file.size, max_length };
    if policy.on_error == OnError::Null {
        let row = NullRow { path: Some(path), source: "binaryFile".to_owned(), reason: error.to_string() };
        if !report_nulls(&policy.options, &[row]) {
            log::warn!("{error} Its content is NULL (verger.images.on_error = 'null').");
        }
        return Err(Ok(FileRow { file, content: None }));
    }
    Err(Err(error.into()))
}

/// The row of a file read: the limit holds for what was read, as the file may have grown
/// since it was listed.
fn read_row(location: &StorageLocation, mut file: ListedFile, content: Bytes, max_length: u64) -> Result<FileRow> {
    if content.len() as u64 > max_length {
        return Err(BinaryFileError::FileTooLong {
            path: location.spark_path(&object_path(&file)),
            length: content.len() as u64,
            max_length,
        }
        .into());
    }
    file.size = content.len() as u64;
    Ok(FileRow { file, content: Some(content) })
}

/// Reads a file's row through its object store.
async fn read_file(
    store: Arc<dyn ObjectStore>,
    location: StorageLocation,
    file: ListedFile,
    read_content: bool,
    policy: Arc<ReadPolicy>,
) -> Result<FileRow> {
    if !read_content {
        return Ok(FileRow { file, content: None });
    }
    let file = match check_listed_length(&location, file, &policy) {
        Ok(file) => file,
        Err(outcome) => return outcome,
    };
    let path = object_path(&file);
    let read_error = |source| BinaryFileError::Read { path: location.spark_path(&path), source };
    let content = store.get(&path).await.map_err(read_error)?.bytes().await.map_err(read_error)?;
    read_row(&location, file, content, policy.max_length)
}

/// Reads the rows of local files, in order, on the calling (blocking) thread. Errors name the
/// file as object_store's local store does.
fn read_local_files(location: &StorageLocation, files: Vec<ListedFile>, policy: &ReadPolicy) -> Vec<Result<FileRow>> {
    let local = LocalFileSystem::new();
    let read = |file: ListedFile| -> Result<FileRow> {
        let file = match check_listed_length(location, file, policy) {
            Ok(file) => file,
            Err(outcome) => return outcome,
        };
        let path = object_path(&file);
        let read_error = |source| BinaryFileError::Read { path: location.spark_path(&path), source };
        let on_disk = local.path_to_filesystem(&path).map_err(read_error)?;
        let content = std::fs::read(&on_disk).map_err(|source| {
            read_error(match source.kind() {
                std::io::ErrorKind::NotFound => {
                    object_store::Error::NotFound { path: on_disk.display().to_string(), source: Box::new(source) }
                }
                _ => object_store::Error::Generic { store: "LocalFileSystem", source: Box::new(source) },
            })
        })?;
        read_row(location, file, Bytes::from(content), policy.max_length)
    };
    files.into_iter().map(read).collect()
}

/// Builds the rows of files into batches of the binaryFile schema, projected.
pub(crate) struct BatchBuilder {
    location: StorageLocation,
    partition_columns: Vec<PartitionColumn>,
    projection: Vec<usize>,
    schema: SchemaRef,
    time_zone: Option<String>,
}

impl BatchBuilder {
    pub(crate) fn new(
        location: StorageLocation,
        partition_columns: Vec<PartitionColumn>,
        projection: Vec<usize>,
        time_zone: Option<String>,
    ) -> Result<Self> {
        let schema = Arc::new(binary_file_schema(&partition_columns).project(&projection)?);
        Ok(Self { location, partition_columns, projection, schema, time_zone })
    }

    pub(crate) fn build(&self, rows: &[FileRow]) -> Result<RecordBatch> {
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.projection.len());
        for &index in &self.projection {
            let column: ArrayRef = match index {
                0 => Arc::new(StringArray::from_iter_values(rows.iter().map(|r| self.location.spark_path(&object_path(&r.file))))),
                1 => {
                    Arc::new(TimestampMicrosecondArray::from_iter_values(rows.iter().map(|r| r.file.modified_micros)).with_timezone("UTC"))
                }
                2 => Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.file.size as i64))),
                CONTENT_INDEX => Arc::new(BinaryArray::from_iter(rows.iter().map(|r| r.content.as_deref()))),
                partition => {
                    let column = &self.partition_columns[partition - 4];
                    let values = rows
                        .iter()
                        .map(|r| partition_value(&r.file.partition_values[partition - 4], column.data_type, self.time_zone.as_deref()))
                        .collect::<Result<Vec<ScalarValue>, BinaryFileError>>()?;
                    ScalarValue::iter_to_array(values)?
                }
            };
            columns.push(column);
        }
        let options = RecordBatchOptions::new().with_row_count(Some(rows.len()));
        Ok(RecordBatch::try_new_with_options(Arc::clone(&self.schema), columns, &options)?)
    }
}

impl ExecutionPlan for BinaryFileScanExec {
    fn name(&self) -> &str {
        "BinaryFileScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        // The file list is already spread over partitions by size.
        vec![false]
    }

    fn apply_expressions(&self, _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(self: Arc<Self>, mut children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        match (children.pop(), children.is_empty()) {
            (Some(input), true) => Ok(Arc::new(BinaryFileScanExec::try_new(
                self.location.clone(),
                self.partition_columns.clone(),
                self.projection.clone(),
                input,
            )?)),
            _ => Err(DataFusionError::Internal("BinaryFileScanExec takes exactly one input".to_owned())),
        }
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let partition_columns = self.partition_columns.len();
        let files = self
            .input
            .execute(partition, Arc::clone(&context))?
            .map(move |batch| batch.and_then(|b| from_batch(&b, partition_columns)))
            .map_ok(|files| futures::stream::iter(files.into_iter().map(Ok::<ListedFile, DataFusionError>)))
            .try_flatten();
        let options = context.session_config().options();
        let store = object_store_for(&self.location, options)?;
        let settings = VergerConfig::from_options(options);
        let policy = Arc::new(ReadPolicy {
            max_length: settings.binary_file_max_length,
            on_error: settings.images_on_error,
            options: Arc::clone(options),
        });
        let read_content = self.reads_content();
        let batch_size = context.session_config().batch_size().max(1);
        let batch_size = if read_content { batch_size.min(MAX_CONTENT_BATCH_ROWS) } else { batch_size };
        let progress = context.session_config().get_extension::<ScanProgress>();
        let files_read: Count = MetricBuilder::new(&self.metrics).counter("files_read", partition);
        let bytes_read: Count = MetricBuilder::new(&self.metrics).counter("bytes_read", partition);
        let builder = Arc::new(BatchBuilder::new(
            self.location.clone(),
            self.partition_columns.clone(),
            self.projection.clone(),
            options.execution.time_zone.clone(),
        )?);

        let location = self.location.clone();
        let rows = if read_content && matches!(location.scheme(), Scheme::Local) {
            // object_store's local store hands each open and each read of a file to tokio's
            // blocking threads; on cores busy with inference, those two wake-ups per photo
            // preempted it. Here one blocking task reads a whole group of files.
            files
                .try_chunks_by_budget(LOCAL_READS_PER_TASK, MAX_LOCAL_TASK_BYTES)
                .map(move |group| {
                    let (location, policy) = (location.clone(), Arc::clone(&policy));
                    async move {
                        let group = group?;
                        tokio::task::spawn_blocking(move || read_local_files(&location, group, &policy))
                            .await
                            .map_err(|e| DataFusionError::Execution(format!("a file read task failed: {e}")))
                    }
                })
                .buffered(LOCAL_TASKS_AHEAD)
                .map_ok(futures::stream::iter)
                .try_flatten()
                .boxed()
        } else {
            files
                .map(move |file| {
                    let (store, location, policy) = (Arc::clone(&store), location.clone(), Arc::clone(&policy));
                    async move { read_file(store, location, file?, read_content, policy).await }
                })
                .buffered(CONCURRENT_READS)
                .boxed()
        };
        // Group rows into batches closed by row count or by content bytes, whichever first.
        let batches = rows.try_chunks_by_budget(batch_size, MAX_BATCH_BYTES).map(move |chunk| {
            let rows = chunk?;
            let bytes: u64 = rows.iter().map(|r| r.content.as_ref().map_or(0, |c| c.len() as u64)).sum();
            files_read.add(rows.len());
            bytes_read.add(bytes as usize);
            if let Some(progress) = &progress {
                progress.add(rows.len() as u64, bytes);
            }
            builder.build(&rows)
        });
        if !read_content {
            return Ok(Box::pin(RecordBatchStreamAdapter::new(Arc::clone(&self.projected_schema), batches)));
        }
        // Reading runs ahead of the consumer on its own task, so that I/O (S3 latency above
        // all) overlaps the CPU work done on the previous batch.
        let mut prefetch = RecordBatchReceiverStream::builder(Arc::clone(&self.projected_schema), PREFETCH_BATCHES);
        let sender = prefetch.tx();
        prefetch.spawn(async move {
            let mut batches = std::pin::pin!(batches);
            while let Some(batch) = batches.next().await {
                let failed = batch.is_err();
                // A closed channel means the consumer is gone (a LIMIT reached, a cancelled query).
                if sender.send(batch).await.is_err() || failed {
                    break;
                }
            }
            Ok(())
        });
        Ok(prefetch.build())
    }
}

/// The bytes an item stands for when chunking by budget.
trait Weighed {
    fn bytes(&self) -> usize;
}

impl Weighed for FileRow {
    fn bytes(&self) -> usize {
        self.content.as_ref().map_or(0, Bytes::len)
    }
}

impl Weighed for ListedFile {
    fn bytes(&self) -> usize {
        usize::try_from(self.size).unwrap_or(usize::MAX)
    }
}

/// Chunks a stream of items (rows, files) by count and by bytes.
trait ChunkByBudget<T: Weighed + Send + 'static>: futures::Stream<Item = Result<T>> + Sized + Send + 'static {
    fn try_chunks_by_budget(self, max_items: usize, max_bytes: usize) -> futures::stream::BoxStream<'static, Result<Vec<T>>> {
        futures::stream::unfold((Box::pin(self), false), move |(mut items, finished)| async move {
            if finished {
                return None;
            }
            let mut chunk = Vec::new();
            let mut bytes = 0usize;
            loop {
                match items.next().await {
                    Some(Ok(item)) => {
                        bytes = bytes.saturating_add(item.bytes());
                        chunk.push(item);
                        if chunk.len() >= max_items || bytes >= max_bytes {
                            return Some((Ok(chunk), (items, false)));
                        }
                    }
                    Some(Err(error)) => return Some((Err(error), (items, true))),
                    None if chunk.is_empty() => return None,
                    None => return Some((Ok(chunk), (items, true))),
                }
            }
        })
        .boxed()
    }
}

impl<T: Weighed + Send + 'static, S: futures::Stream<Item = Result<T>> + Sized + Send + 'static> ChunkByBudget<T> for S {}
