//! Materialising an input once, for a fit and its transform.
//!
//! A one-liner reads its input twice: the fit needs every row before the transform can
//! emit one. When that input is computed (`image_features(content)`), computing it twice
//! would double the job's cost, so [`MaterializeWrite`] passes each partition through to
//! the fit while writing it, as an Arrow IPC stream, to `verger.materialize.dir`; the
//! transform side's [`MaterializeRead`] reads the parts back once the fit — which needs all
//! of them — is done, and deletes each part it has read.
//!
//! On a Ballista cluster the writes happen in the fit's first stage, the reads in the
//! transform's stage, which runs after the fit's; the two may be on different executors,
//! so on a multi-host cluster the directory must be storage they share (`s3://…`).

use crate::error::MlError;
use datafusion::arrow::array::{Array, AsArray, RecordBatch, UInt32Array};
use datafusion::arrow::buffer::Buffer;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, UInt32Type};
use datafusion::arrow::ipc::reader::StreamDecoder;
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::catalog::memory::MemorySourceConfig;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DFSchemaRef, Result};
use datafusion::config::ConfigOptions;
use datafusion::error::DataFusionError;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Expr, LogicalPlan, UserDefinedLogicalNodeCore};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{Count, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties};
use futures::{StreamExt, TryStreamExt};
use object_store::buffered::BufWriter;
use object_store::path::Path;
use object_store::{GetResultPayload, ObjectStore, ObjectStoreExt};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::AsyncWriteExt;
use verger_config::VergerConfig;
use verger_storage::{StorageLocation, object_store_for};

/// A fresh identifier for one materialised input.
pub fn new_materialize_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{nanos:x}-{:x}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

fn materialize_error(message: impl Into<String>) -> DataFusionError {
    MlError::Materialize(message.into()).into()
}

/// The store and folder of materialised input `id` under `dir` (empty: the temp dir).
fn target(dir: &str, id: &str, options: &ConfigOptions) -> Result<(Arc<dyn ObjectStore>, Path, String)> {
    let dir = if dir.is_empty() {
        let configured = VergerConfig::from_options(options).materialize_dir;
        if configured.is_empty() { std::env::temp_dir().join("verger-materialize").to_string_lossy().into_owned() } else { configured }
    } else {
        dir.to_owned()
    };
    let location = StorageLocation::parse(&dir).map_err(|e| materialize_error(format!("verger.materialize.dir '{dir}': {e}")))?;
    if location.bucket().is_none() {
        std::fs::create_dir_all(&dir).map_err(|e| materialize_error(format!("cannot create {dir}: {e}")))?;
    }
    let store = object_store_for(&location, options)?;
    let base = location.object_path().clone().join(id);
    Ok((store, base, format!("{}/{id}", dir.trim_end_matches('/'))))
}

fn part_name(index: usize, total: usize) -> String {
    format!("part-{index:05}-of-{total:05}.arrow")
}

fn parse_part_name(name: &str) -> Option<(usize, usize)> {
    let rest = name.strip_prefix("part-")?.strip_suffix(".arrow")?;
    let (index, total) = rest.split_once("-of-")?;
    Some((index.parse().ok()?, total.parse().ok()?))
}

// ---------------------------------------------------------------------------------------
// Logical nodes

/// Passes its input through and materialises it under `id`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MaterializeWrite {
    pub input: LogicalPlan,
    pub id: String,
    /// `verger.materialize.dir` when planned; empty for the temp dir.
    pub dir: String,
}

impl PartialOrd for MaterializeWrite {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        self.id.partial_cmp(&other.id)
    }
}

impl UserDefinedLogicalNodeCore for MaterializeWrite {
    fn name(&self) -> &str {
        "MaterializeWrite"
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![&self.input]
    }

    fn schema(&self) -> &DFSchemaRef {
        self.input.schema()
    }

    fn expressions(&self) -> Vec<Expr> {
        Vec::new()
    }

    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "MaterializeWrite: id={}", self.id)
    }

    fn with_exprs_and_inputs(&self, _exprs: Vec<Expr>, mut inputs: Vec<LogicalPlan>) -> Result<Self> {
        match inputs.pop() {
            Some(input) if inputs.is_empty() => Ok(Self { input, id: self.id.clone(), dir: self.dir.clone() }),
            _ => Err(materialize_error("MaterializeWrite takes one input")),
        }
    }
}

/// Reads back the input materialised under `id`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MaterializeRead {
    pub id: String,
    pub dir: String,
    pub schema: DFSchemaRef,
}

impl PartialOrd for MaterializeRead {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        self.id.partial_cmp(&other.id)
    }
}

impl UserDefinedLogicalNodeCore for MaterializeRead {
    fn name(&self) -> &str {
        "MaterializeRead"
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        Vec::new()
    }

    fn schema(&self) -> &DFSchemaRef {
        &self.schema
    }

    fn expressions(&self) -> Vec<Expr> {
        Vec::new()
    }

    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "MaterializeRead: id={}", self.id)
    }

    fn with_exprs_and_inputs(&self, _exprs: Vec<Expr>, _inputs: Vec<LogicalPlan>) -> Result<Self> {
        Ok(self.clone())
    }
}

// ---------------------------------------------------------------------------------------
// Physical plans

/// Streams its input through unchanged while writing each partition to
/// `part-<i>-of-<n>.arrow`. A part appears only complete: the upload is committed when the
/// partition ends.
///
/// `i` is the partition's global index. A cluster task runs a plan restricted to some
/// partitions and renumbered from 0, so the index comes from a second, in-memory child of
/// `n` one-row partitions (`slot`), which the restriction slices like the input.
#[derive(Debug)]
pub struct MaterializeWriteExec {
    input: Arc<dyn ExecutionPlan>,
    slots: Arc<dyn ExecutionPlan>,
    total: usize,
    id: String,
    dir: String,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl MaterializeWriteExec {
    pub fn try_new(input: Arc<dyn ExecutionPlan>, id: String, dir: String) -> Result<Self> {
        let total = input.properties().output_partitioning().partition_count();
        Self::with_slots(input, slot_source(total)?, total, id, dir)
    }

    /// Rebuilds the plan around decoded children.
    pub fn with_slots(input: Arc<dyn ExecutionPlan>, slots: Arc<dyn ExecutionPlan>, total: usize, id: String, dir: String) -> Result<Self> {
        let properties = Arc::new(input.properties().as_ref().clone());
        Ok(Self { input, slots, total, id, dir, properties, metrics: ExecutionPlanMetricsSet::new() })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn dir(&self) -> &str {
        &self.dir
    }

    /// Partitions in the whole plan, before any restriction.
    pub fn total(&self) -> usize {
        self.total
    }
}

impl DisplayAs for MaterializeWriteExec {
    fn fmt_as(&self, _format: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "MaterializeWriteExec: id={}, parts={}", self.id, self.total)
    }
}

/// `count` partitions of one row each: the partition's global number.
fn slot_source(count: usize) -> Result<Arc<dyn ExecutionPlan>> {
    let count = count.max(1);
    let batches = (0..count)
        .map(|slot| {
            let slot = u32::try_from(slot).unwrap_or(u32::MAX);
            Ok(vec![RecordBatch::try_new(slot_schema(), vec![Arc::new(UInt32Array::from(vec![slot]))])?])
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(MemorySourceConfig::try_new_exec(&batches, slot_schema(), None)?)
}

/// The global number carried by partition `partition` of a slot source.
async fn read_slot(slots: &Arc<dyn ExecutionPlan>, partition: usize, context: Arc<TaskContext>) -> Result<usize> {
    let mut batches = slots.execute(partition, context)?;
    let mut slot = None;
    while let Some(batch) = batches.next().await {
        let batch = batch?;
        let value = batch.column(0).as_primitive_opt::<UInt32Type>().filter(|c| !c.is_empty()).map(|c| c.value(0));
        slot = slot.or(value);
    }
    slot.map(|s| s as usize).ok_or_else(|| materialize_error(format!("partition {partition} got no slot number")))
}

struct PartWriter {
    upload_path: Path,
    ipc: StreamWriter<Vec<u8>>,
    upload: BufWriter,
    bytes: usize,
}

impl PartWriter {
    /// Each batch's IPC bytes go to the upload at once: the upload gathers them into parts
    /// itself. Buffering them here into 8 MB chunks first made the process's RSS creep
    /// (~40 MB per 10,000 photos): the allocator kept the freed chunks.
    async fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.ipc.write(batch)?;
        self.flush().await
    }

    async fn flush(&mut self) -> Result<()> {
        let chunk = std::mem::take(self.ipc.get_mut());
        self.bytes += chunk.len();
        self.upload.put(chunk.into()).await.map_err(|e| materialize_error(format!("cannot write a part: {e}")))
    }

    async fn finish(mut self) -> Result<usize> {
        self.ipc.finish()?;
        self.flush().await?;
        self.upload.shutdown().await.map_err(|e| materialize_error(format!("cannot commit a part: {e}")))?;
        Ok(self.bytes)
    }
}

impl ExecutionPlan for MaterializeWriteExec {
    fn name(&self) -> &str {
        "MaterializeWriteExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input, &self.slots]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false, false]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true, false]
    }

    fn apply_expressions(&self, _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(self: Arc<Self>, children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        let [input, slots] = children.as_slice() else {
            return Err(materialize_error("MaterializeWriteExec takes an input and its slots"));
        };
        let count = |plan: &Arc<dyn ExecutionPlan>| plan.properties().output_partitioning().partition_count();
        // A restricted task slices both children alike and keeps the global total; an
        // optimizer that changes the input's partitioning gets fresh slots.
        if count(input) == count(slots) {
            Ok(Arc::new(Self::with_slots(Arc::clone(input), Arc::clone(slots), self.total, self.id.clone(), self.dir.clone())?))
        } else {
            Ok(Arc::new(Self::try_new(Arc::clone(input), self.id.clone(), self.dir.clone())?))
        }
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let (store, base, _) = target(&self.dir, &self.id, context.session_config().options())?;
        let schema = self.schema();
        let input = self.input.execute(partition, Arc::clone(&context))?;
        let (slots, total) = (Arc::clone(&self.slots), self.total);
        let bytes_written: Count = MetricBuilder::new(&self.metrics).counter("bytes_written", partition);
        let writer_schema = Arc::clone(&schema);
        let open = async move {
            let index = read_slot(&slots, partition, context).await?;
            let path = base.clone().join(part_name(index, total).as_str());
            log::debug!("materialising partition {index} of {total} to {path}");
            let writer = PartWriter {
                upload_path: path.clone(),
                ipc: StreamWriter::try_new(Vec::new(), &writer_schema)?,
                upload: BufWriter::new(store, path),
                bytes: 0,
            };
            Ok::<_, DataFusionError>(futures::stream::try_unfold(
                (input, Some(writer), bytes_written),
                |(mut input, mut writer, metric)| async move {
                    match input.next().await {
                        Some(batch) => {
                            let batch = batch?;
                            if let Some(writer) = writer.as_mut() {
                                writer.write(&batch).await?;
                            }
                            Ok(Some((batch, (input, writer, metric))))
                        }
                        None => {
                            if let Some(writer) = writer.take() {
                                let path = writer.upload_path.clone();
                                let bytes = writer.finish().await?;
                                log::debug!("materialised {bytes} bytes to {path}");
                                metric.add(bytes);
                            }
                            Ok(None)
                        }
                    }
                },
            ))
        };
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, futures::stream::once(open).try_flatten())))
    }
}

/// Reads a materialised input back. Its partitions are slots: slot `j` of `m` reads the
/// parts whose index is `j` modulo `m`. The slot numbers come from a small in-memory child
/// so that a cluster task restricted to some partitions gets the right slots.
#[derive(Debug)]
pub struct MaterializeReadExec {
    id: String,
    dir: String,
    schema: SchemaRef,
    slots: usize,
    input: Arc<dyn ExecutionPlan>,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

fn slot_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new("slot", DataType::UInt32, false)]))
}

impl MaterializeReadExec {
    pub fn try_new(id: String, dir: String, schema: SchemaRef, slots: usize) -> Result<Self> {
        let slots = slots.max(1);
        Self::with_input(id, dir, schema, slots, slot_source(slots)?)
    }

    /// Rebuilds the plan around a decoded slot input.
    pub fn with_input(id: String, dir: String, schema: SchemaRef, slots: usize, input: Arc<dyn ExecutionPlan>) -> Result<Self> {
        let partitions = input.properties().output_partitioning().partition_count();
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&schema)),
            Partitioning::UnknownPartitioning(partitions),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        Ok(Self { id, dir, schema, slots, input, properties, metrics: ExecutionPlanMetricsSet::new() })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn dir(&self) -> &str {
        &self.dir
    }

    pub fn slots(&self) -> usize {
        self.slots
    }
}

impl DisplayAs for MaterializeReadExec {
    fn fmt_as(&self, _format: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "MaterializeReadExec: id={}, slots={}", self.id, self.slots)
    }
}

/// The parts of a materialised input, checked complete: indices 0..n, all of one `n`.
async fn complete_parts(store: &Arc<dyn ObjectStore>, base: &Path, shown: &str) -> Result<Vec<(usize, Path)>> {
    let listed: Vec<_> = store.list(Some(base)).try_collect().await.map_err(|e| materialize_error(format!("cannot list {shown}: {e}")))?;
    let mut parts: Vec<(usize, usize, Path)> = listed
        .into_iter()
        .filter_map(|meta| meta.location.filename().and_then(parse_part_name).map(|(i, n)| (i, n, meta.location.clone())))
        .collect();
    parts.sort_by_key(|(i, _, _)| *i);
    let total = parts.first().map(|(_, n, _)| *n);
    let complete = total.is_some_and(|n| parts.len() == n && parts.iter().enumerate().all(|(k, (i, t, _))| k == *i && *t == n));
    if !complete {
        return Err(materialize_error(format!(
            "{shown} holds {} of {} parts: either the transform ran before the fit finished writing them (Ballista's \
             static planner, ballista.planner.adaptive.enabled = false, can schedule it so: keep the default adaptive \
             planner), or they are on another machine's disk (on a multi-host cluster, set verger.materialize.dir to \
             storage every executor shares, e.g. s3://bucket/tmp)",
            parts.len(),
            total.map_or_else(|| "its".to_owned(), |n| n.to_string()),
        )));
    }
    Ok(parts.into_iter().map(|(i, _, path)| (i, path)).collect())
}

/// Bytes read per blocking task from a local part. object_store's own local stream reads 8 KiB
/// per task: ~640 thread hand-offs for the 5 MB part of 1,000 photos' features, which made
/// reading them back take ~0.1 s on two cores.
const LOCAL_CHUNK_BYTES: u64 = 4 * 1024 * 1024;

/// The bytes of `range` of a local file, in chunks of [`LOCAL_CHUNK_BYTES`].
fn local_chunks(
    file: std::fs::File,
    range: std::ops::Range<u64>,
) -> futures::stream::BoxStream<'static, object_store::Result<bytes::Bytes>> {
    let read_error = |source: std::io::Error| object_store::Error::Generic { store: "LocalFileSystem", source: Box::new(source) };
    futures::stream::try_unfold((file, range.start, range.end), move |(mut file, at, end)| async move {
        if at >= end {
            return Ok(None);
        }
        let want = (end - at).min(LOCAL_CHUNK_BYTES);
        let (file, chunk) = tokio::task::spawn_blocking(move || -> std::io::Result<(std::fs::File, Vec<u8>)> {
            use std::io::{Read, Seek, SeekFrom};
            file.seek(SeekFrom::Start(at))?;
            let mut chunk = Vec::with_capacity(usize::try_from(want).unwrap_or_default());
            (&mut file).take(want).read_to_end(&mut chunk)?;
            Ok((file, chunk))
        })
        .await
        .map_err(|e| read_error(std::io::Error::other(e)))?
        .map_err(read_error)?;
        if chunk.is_empty() {
            return Err(read_error(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("the file ended at byte {at} of {end}"),
            )));
        }
        let next = at + chunk.len() as u64;
        Ok(Some((bytes::Bytes::from(chunk), (file, next, end))))
    })
    .boxed()
}

/// The batches of one part.
fn read_part(store: Arc<dyn ObjectStore>, path: Path, schema: SchemaRef) -> impl futures::Stream<Item = Result<RecordBatch>> + Send {
    let open = async move {
        let found = store.get(&path).await.map_err(|e| materialize_error(format!("cannot read {path}: {e}")))?;
        let bytes = match found.payload {
            GetResultPayload::File(file, _) => local_chunks(file, found.range),
            GetResultPayload::Stream(stream) => stream,
        };
        let state = (bytes, StreamDecoder::new(), Buffer::from(Vec::<u8>::new()), schema);
        Ok::<_, DataFusionError>(futures::stream::try_unfold(state, |(mut bytes, mut decoder, mut pending, schema)| async move {
            loop {
                while !pending.is_empty() {
                    if let Some(batch) = decoder.decode(&mut pending)? {
                        let batch = RecordBatch::try_new(Arc::clone(&schema), batch.columns().to_vec())?;
                        return Ok(Some((batch, (bytes, decoder, pending, schema))));
                    }
                }
                match bytes.next().await {
                    Some(chunk) => pending = Buffer::from(chunk.map_err(|e| materialize_error(format!("cannot read a part: {e}")))?),
                    None => {
                        decoder.finish()?;
                        return Ok(None);
                    }
                }
            }
        }))
    };
    futures::stream::once(open).try_flatten()
}

/// Marks reader `slot` of `slots` done; the reader that finds every reader done deletes the
/// folder. Failures only leave files behind, so they are logged, not raised.
async fn finish_reading(store: Arc<dyn ObjectStore>, base: Path, slot: usize, slots: usize, local_folder: Option<std::path::PathBuf>) {
    let marker = base.clone().join(format!("done-{slot:05}-of-{slots:05}").as_str());
    if let Err(e) = store.put(&marker, Vec::<u8>::new().into()).await {
        log::warn!("could not mark the materialised input {base} read: {e}");
        return;
    }
    let Ok(listed) = store.list(Some(&base)).try_collect::<Vec<_>>().await else { return };
    let done = listed
        .iter()
        .filter(|meta| meta.location.filename().is_some_and(|name| name.starts_with("done-") && name.ends_with(&format!("-of-{slots:05}"))))
        .count();
    if done < slots {
        return;
    }
    for meta in listed {
        // Two readers finishing together may both clean up: a file already gone is fine.
        match store.delete(&meta.location).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => log::warn!("could not delete the materialised file {}: {e}", meta.location),
        }
    }
    if let Some(folder) = local_folder {
        let _ = std::fs::remove_dir(folder);
    }
}

impl ExecutionPlan for MaterializeReadExec {
    fn name(&self) -> &str {
        "MaterializeReadExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
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
                Ok(Arc::new(Self::with_input(self.id.clone(), self.dir.clone(), Arc::clone(&self.schema), self.slots, input)?))
            }
            _ => Err(materialize_error("MaterializeReadExec takes one input")),
        }
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let (store, base, shown) = target(&self.dir, &self.id, context.session_config().options())?;
        let slot_input = Arc::clone(&self.input);
        let (slots, schema) = (self.slots, Arc::clone(&self.schema));
        let local_folder = (!shown.contains("://")).then(|| std::path::PathBuf::from(&shown));
        let parts_read: Count = MetricBuilder::new(&self.metrics).counter("parts_read", partition);
        let batches = async move {
            let slot = read_slot(&slot_input, partition, context).await?;
            let parts = complete_parts(&store, &base, &shown).await?;
            let mine: Vec<Path> = parts.into_iter().filter(|(index, _)| index % slots == slot).map(|(_, path)| path).collect();
            parts_read.add(mine.len());
            let reads = futures::stream::iter(mine.into_iter().map(Ok::<_, DataFusionError>))
                .map_ok({
                    let (store, schema) = (Arc::clone(&store), Arc::clone(&schema));
                    move |path| read_part(Arc::clone(&store), path, Arc::clone(&schema))
                })
                .try_flatten();
            // Each reader marks itself done after its last part; the last one cleans up.
            let cleanup = futures::stream::once(finish_reading(store, base, slot, slots, local_folder))
                .filter_map(|()| async { None::<Result<RecordBatch>> });
            Ok::<_, DataFusionError>(reads.chain(cleanup))
        };
        let stream = futures::stream::once(batches).try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(Arc::clone(&self.schema), stream)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Int32Array;
    use datafusion::prelude::SessionContext;

    fn batch(values: &[i32]) -> Result<RecordBatch> {
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int32, false)]));
        Ok(RecordBatch::try_new(schema, vec![Arc::new(Int32Array::from(values.to_vec()))])?)
    }

    async fn collect_all(plan: &Arc<dyn ExecutionPlan>, context: &Arc<TaskContext>) -> Result<Vec<i32>> {
        let mut values = Vec::new();
        for partition in 0..plan.properties().output_partitioning().partition_count() {
            let batches: Vec<RecordBatch> = plan.execute(partition, Arc::clone(context))?.try_collect().await?;
            for b in batches {
                values.extend(b.column(0).as_primitive::<datafusion::arrow::datatypes::Int32Type>().values().iter().copied());
            }
        }
        values.sort_unstable();
        Ok(values)
    }

    #[tokio::test]
    async fn parts_written_by_partition_are_read_back_by_slots_then_removed() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| materialize_error(e.to_string()))?;
        let dir_text = dir.path().to_string_lossy().into_owned();
        let context = SessionContext::new().task_ctx();
        let source = MemorySourceConfig::try_new_exec(
            &[vec![batch(&[1, 2])?], vec![batch(&[3])?], vec![batch(&[4, 5, 6])?]],
            batch(&[])?.schema(),
            None,
        )?;
        let write: Arc<dyn ExecutionPlan> = Arc::new(MaterializeWriteExec::try_new(source, "q1".to_owned(), dir_text.clone())?);
        assert_eq!(collect_all(&write, &context).await?, vec![1, 2, 3, 4, 5, 6], "rows pass through");

        // Two readers for three parts: every row once.
        let read: Arc<dyn ExecutionPlan> =
            Arc::new(MaterializeReadExec::try_new("q1".to_owned(), dir_text.clone(), batch(&[])?.schema(), 2)?);
        assert_eq!(collect_all(&read, &context).await?, vec![1, 2, 3, 4, 5, 6]);
        assert!(!dir.path().join("q1").exists(), "the last reader removes the folder");
        Ok(())
    }

    /// A part larger than the upload's buffer (10 MB) goes up in several pieces, each batch
    /// handed over on its own; it must read back whole and in order.
    #[tokio::test]
    async fn a_part_written_in_many_pieces_reads_back_in_order() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| materialize_error(e.to_string()))?;
        let dir_text = dir.path().to_string_lossy().into_owned();
        let context = SessionContext::new().task_ctx();
        let rows_per_batch = 64 * 1024;
        let batches =
            (0..48).map(|b| batch(&(b * rows_per_batch..(b + 1) * rows_per_batch).collect::<Vec<i32>>())).collect::<Result<Vec<_>>>()?;
        let source = MemorySourceConfig::try_new_exec(&[batches], batch(&[])?.schema(), None)?;
        let write: Arc<dyn ExecutionPlan> = Arc::new(MaterializeWriteExec::try_new(source, "q3".to_owned(), dir_text.clone())?);
        collect_all(&write, &context).await?;
        let part = dir.path().join("q3").join(part_name(0, 1));
        let size = std::fs::metadata(&part).map_err(|e| materialize_error(e.to_string()))?.len();
        assert!(size > 12 * 1024 * 1024, "the part ({size} bytes) is larger than the upload buffer");

        let read: Arc<dyn ExecutionPlan> = Arc::new(MaterializeReadExec::try_new("q3".to_owned(), dir_text, batch(&[])?.schema(), 1)?);
        let batches: Vec<RecordBatch> = read.execute(0, Arc::clone(&context))?.try_collect().await?;
        let values: Vec<i32> =
            batches.iter().flat_map(|b| b.column(0).as_primitive::<datafusion::arrow::datatypes::Int32Type>().values().to_vec()).collect();
        assert_eq!(values, (0..48 * rows_per_batch).collect::<Vec<i32>>());
        Ok(())
    }

    #[tokio::test]
    async fn a_missing_part_is_an_error_not_fewer_rows() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| materialize_error(e.to_string()))?;
        let dir_text = dir.path().to_string_lossy().into_owned();
        let context = SessionContext::new().task_ctx();
        let source = MemorySourceConfig::try_new_exec(&[vec![batch(&[1])?], vec![batch(&[2])?]], batch(&[])?.schema(), None)?;
        let write: Arc<dyn ExecutionPlan> = Arc::new(MaterializeWriteExec::try_new(source, "q2".to_owned(), dir_text.clone())?);
        collect_all(&write, &context).await?;
        std::fs::remove_file(dir.path().join("q2").join(part_name(1, 2))).map_err(|e| materialize_error(e.to_string()))?;
        let read: Arc<dyn ExecutionPlan> = Arc::new(MaterializeReadExec::try_new("q2".to_owned(), dir_text, batch(&[])?.schema(), 1)?);
        let error = collect_all(&read, &context).await.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("holds 1 of 2 parts"), "{error}");
        Ok(())
    }

    #[test]
    fn part_names_round_trip() {
        assert_eq!(parse_part_name(&part_name(12, 300)), Some((12, 300)));
        assert_eq!(parse_part_name("done-00001-of-00002"), None);
    }
}
