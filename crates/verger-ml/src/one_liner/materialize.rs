//! Materialising an input once, for a fit and its transform.
//!
//! A one-liner reads its input twice: the fit needs every row before the transform can
//! emit one. When that input is computed (`image_features(content)`), computing it twice
//! would double the job's cost, so [`MaterializeWrite`] passes each partition through to
//! the fit while writing it, as an Arrow IPC stream, to `verger.materialize.dir`; the
//! transform side's [`super::read::MaterializeRead`] reads the parts back. The reader's
//! input is the fit's one-row result, so it can only start once the fit — which needs
//! every part — is done: the order is an edge of the plan, which any planner and any retry
//! keeps. [`super::release::MaterializeRelease`], at the root of the query, deletes the
//! parts when the query is over ([`super::lease`]).
//!
//! On a Ballista cluster the writes happen in the fit's first stage, the reads in the
//! transform's stage, which reads the fit's; the two may be on different executors, so
//! on a multi-host cluster the directory must be storage they share (`s3://…`).

use super::lease;
use crate::error::MlError;
use datafusion::arrow::array::{Array, AsArray, RecordBatch, UInt32Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, UInt32Type};
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::catalog::memory::MemorySourceConfig;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DFSchemaRef, Result};
use datafusion::config::ConfigOptions;
use datafusion::error::DataFusionError;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Expr, LogicalPlan, UserDefinedLogicalNodeCore};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::metrics::{Count, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};
use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStore;
use object_store::buffered::BufWriter;
use object_store::path::Path;
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

/// Whether `name` is a folder name [`new_materialize_id`] mints.
pub(crate) fn is_materialize_id(name: &str) -> bool {
    let parts: Vec<&str> = name.split('-').collect();
    matches!(parts.as_slice(), [nanos, pid, counter]
        if !nanos.is_empty() && nanos.chars().all(|c| c.is_ascii_hexdigit())
            && !pid.is_empty() && pid.chars().all(|c| c.is_ascii_hexdigit())
            && !counter.is_empty() && counter.chars().all(|c| c.is_ascii_digit()))
}

pub(crate) fn materialize_error(message: impl Into<String>) -> DataFusionError {
    MlError::Materialize(message.into()).into()
}

/// A folder of a store: `verger.materialize.dir`, or one materialised input in it.
#[derive(Clone)]
pub(crate) struct Folder {
    pub store: Arc<dyn ObjectStore>,
    pub base: Path,
    /// For messages: `dir/id`.
    pub shown: String,
    /// The directory itself when the store is the local file system.
    pub local: Option<std::path::PathBuf>,
}

impl Folder {
    /// `verger.materialize.dir` as planned (`dir`; empty: the session's setting, else the
    /// temp dir).
    pub fn root(dir: &str, options: &ConfigOptions) -> Result<Folder> {
        let dir = if dir.is_empty() {
            let configured = VergerConfig::from_options(options).materialize_dir;
            if configured.is_empty() { std::env::temp_dir().join("verger-materialize").to_string_lossy().into_owned() } else { configured }
        } else {
            dir.to_owned()
        };
        let location = StorageLocation::parse(&dir).map_err(|e| materialize_error(format!("verger.materialize.dir '{dir}': {e}")))?;
        let base = location.object_path();
        let local = location.bucket().is_none().then(|| std::path::PathBuf::from(format!("/{}", base.as_ref())));
        if let Some(local) = &local {
            std::fs::create_dir_all(local).map_err(|e| materialize_error(format!("cannot create {dir}: {e}")))?;
        }
        let store = object_store_for(&location, options)?;
        Ok(Folder { store, base, shown: dir.trim_end_matches('/').to_owned(), local })
    }

    /// Materialised input `id` under `dir`.
    pub fn of(dir: &str, id: &str, options: &ConfigOptions) -> Result<Folder> {
        Ok(Folder::root(dir, options)?.child(id))
    }

    pub fn child(&self, name: &str) -> Folder {
        Folder {
            store: Arc::clone(&self.store),
            base: self.base.clone().join(name),
            shown: format!("{}/{name}", self.shown),
            local: self.local.as_ref().map(|local| local.join(name)),
        }
    }

    pub fn parent(&self) -> Option<Folder> {
        let parts: Vec<_> = self.base.parts().collect();
        let (_, parent) = parts.split_last()?;
        let shown = self.shown.rsplit_once('/').map(|(parent, _)| parent.to_owned()).unwrap_or_default();
        Some(Folder {
            store: Arc::clone(&self.store),
            base: Path::from_iter(parent.iter().cloned()),
            shown,
            local: self.local.as_ref().and_then(|local| local.parent().map(std::path::Path::to_path_buf)),
        })
    }
}

pub(crate) fn part_name(index: usize, total: usize) -> String {
    format!("part-{index:05}-of-{total:05}.arrow")
}

pub(crate) fn parse_part_name(name: &str) -> Option<(usize, usize)> {
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
    /// Planned in this process, which then runs all of the query (embedded), rather than
    /// decoded by a cluster executor: see [`super::lease`].
    embedded: bool,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl MaterializeWriteExec {
    pub fn try_new(input: Arc<dyn ExecutionPlan>, id: String, dir: String) -> Result<Self> {
        let total = input.properties().output_partitioning().partition_count();
        Ok(Self::build(Arc::clone(&input), slot_source(total)?, total, id, dir, true))
    }

    /// Rebuilds the plan around decoded children (on a cluster executor).
    pub fn with_slots(input: Arc<dyn ExecutionPlan>, slots: Arc<dyn ExecutionPlan>, total: usize, id: String, dir: String) -> Result<Self> {
        Ok(Self::build(input, slots, total, id, dir, false))
    }

    fn build(input: Arc<dyn ExecutionPlan>, slots: Arc<dyn ExecutionPlan>, total: usize, id: String, dir: String, embedded: bool) -> Self {
        let properties = Arc::new(input.properties().as_ref().clone());
        Self { input, slots, total, id, dir, embedded, properties, metrics: ExecutionPlanMetricsSet::new() }
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

pub(crate) fn slot_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new("slot", DataType::UInt32, false)]))
}

/// `count` partitions of one row each: the partition's global number.
pub(crate) fn slot_source(count: usize) -> Result<Arc<dyn ExecutionPlan>> {
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
pub(crate) async fn read_slot(slots: &Arc<dyn ExecutionPlan>, partition: usize, context: Arc<TaskContext>) -> Result<usize> {
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
        let (id, dir) = (self.id.clone(), self.dir.clone());
        if count(input) == count(slots) {
            Ok(Arc::new(Self::build(Arc::clone(input), Arc::clone(slots), self.total, id, dir, self.embedded)))
        } else {
            let total = count(input);
            Ok(Arc::new(Self::build(Arc::clone(input), slot_source(total)?, total, id, dir, self.embedded)))
        }
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let folder = Folder::of(&self.dir, &self.id, context.session_config().options())?;
        let lease = lease::hold(folder.clone(), self.embedded);
        let (store, base) = (folder.store, folder.base);
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
                (input, Some(writer), bytes_written, lease),
                |(mut input, mut writer, metric, lease)| async move {
                    match input.next().await {
                        Some(batch) => {
                            let batch = batch?;
                            if let Some(writer) = writer.as_mut() {
                                writer.write(&batch).await?;
                            }
                            Ok(Some((batch, (input, writer, metric, lease))))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_names_round_trip() {
        assert_eq!(parse_part_name(&part_name(12, 300)), Some((12, 300)));
        assert_eq!(parse_part_name(super::super::lease::LEASE_FILE), None);
    }

    #[test]
    fn minted_ids_are_recognised_and_nothing_else() {
        assert!(is_materialize_id(&new_materialize_id()));
        for other in ["", "tmp", "a-b", "1a-2b-x", "1a--0", "../1-1-1"] {
            assert!(!is_materialize_id(other), "{other}");
        }
    }
}
