//! The transform's side of a materialised input: [`MaterializeRead`] reads the parts back
//! once the fit is known, and hands every row the fit's one-row result.
//!
//! Its input is the fit (the models), which the reader needs whole: it requires a single
//! partition and always sits on a `CoalescePartitionsExec`, which Ballista cuts into a
//! stage of its own. The reader's stage therefore reads the fit's output, so no planner
//! and no retry can run a reader before the fit has seen every part. The model is
//! collected once per plan instance (once for an embedded run, once per cluster task).

use super::lease;
use super::materialize::{Folder, materialize_error, parse_part_name, read_slot, slot_source};
use datafusion::arrow::array::{RecordBatch, RecordBatchOptions, UInt32Array};
use datafusion::arrow::buffer::Buffer;
use datafusion::arrow::compute::{concat_batches, take};
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::arrow::ipc::reader::StreamDecoder;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DFSchemaRef, Result};
use datafusion::error::DataFusionError;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Expr, LogicalPlan, UserDefinedLogicalNodeCore};
use datafusion::physical_expr::{Distribution, EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{Count, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties};
use futures::future::{BoxFuture, Shared};
use futures::{FutureExt, StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{GetResultPayload, ObjectStore, ObjectStoreExt};
use std::fmt;
use std::sync::{Arc, Mutex};

/// Reads back the input materialised under `id` once `models`, the fit's one row, is
/// known; each row gets the models' columns.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MaterializeRead {
    pub models: LogicalPlan,
    pub id: String,
    pub dir: String,
    /// What the parts hold: the schema of the [`super::MaterializeWrite`].
    pub rows: DFSchemaRef,
    /// `rows`, then the models' columns.
    pub schema: DFSchemaRef,
}

impl MaterializeRead {
    pub fn try_new(models: LogicalPlan, id: String, dir: String, rows: DFSchemaRef) -> Result<Self> {
        let schema = Arc::new(rows.join(models.schema())?);
        Ok(Self { models, id, dir, rows, schema })
    }
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
        vec![&self.models]
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

    fn with_exprs_and_inputs(&self, _exprs: Vec<Expr>, mut inputs: Vec<LogicalPlan>) -> Result<Self> {
        match inputs.pop() {
            Some(models) if inputs.is_empty() => Self::try_new(models, self.id.clone(), self.dir.clone(), Arc::clone(&self.rows)),
            _ => Err(materialize_error("MaterializeRead takes the models as its one input")),
        }
    }
}

type ModelRow = Shared<BoxFuture<'static, std::result::Result<Arc<RecordBatch>, Arc<DataFusionError>>>>;

/// Reads a materialised input back, after the fit. Its partitions are slots: slot `j` of
/// `m` reads the parts whose index is `j` modulo `m`. The slot numbers come from a small
/// in-memory child, which a cluster task restricted to some partitions gets sliced alike
/// (Ballista renumbers a task's partitions from 0).
pub struct MaterializeReadExec {
    id: String,
    dir: String,
    rows: SchemaRef,
    schema: SchemaRef,
    slots: usize,
    models: Arc<dyn ExecutionPlan>,
    slot_input: Arc<dyn ExecutionPlan>,
    /// The models' row, collected by the first partition that runs; the others wait for it.
    model_row: Mutex<Option<ModelRow>>,
    /// Planned in this process, which then runs all of the query (embedded).
    embedded: bool,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl fmt::Debug for MaterializeReadExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MaterializeReadExec").field("id", &self.id).field("dir", &self.dir).field("slots", &self.slots).finish()
    }
}

/// `models` behind an exchange: a stage of its own on a cluster, whatever the optimizers
/// removed (a single-partition input needs no `CoalescePartitionsExec` in DataFusion's eyes).
fn behind_exchange(models: Arc<dyn ExecutionPlan>) -> Arc<dyn ExecutionPlan> {
    if models.is::<CoalescePartitionsExec>() { models } else { Arc::new(CoalescePartitionsExec::new(models)) }
}

impl MaterializeReadExec {
    /// Plans a reader of `slots` partitions for rows of `rows`, after `models`.
    pub fn try_new(id: String, dir: String, rows: SchemaRef, models: Arc<dyn ExecutionPlan>, slots: usize) -> Result<Self> {
        let slots = slots.max(1);
        Ok(Self::build(id, dir, rows, slots, models, slot_source(slots)?, true))
    }

    /// Rebuilds the plan around decoded children (on a cluster executor).
    pub fn with_children(
        id: String,
        dir: String,
        rows: SchemaRef,
        slots: usize,
        models: Arc<dyn ExecutionPlan>,
        slot_input: Arc<dyn ExecutionPlan>,
    ) -> Self {
        Self::build(id, dir, rows, slots, models, slot_input, false)
    }

    fn build(
        id: String,
        dir: String,
        rows: SchemaRef,
        slots: usize,
        models: Arc<dyn ExecutionPlan>,
        slot_input: Arc<dyn ExecutionPlan>,
        embedded: bool,
    ) -> Self {
        let models = behind_exchange(models);
        let fields = rows.fields().iter().chain(models.schema().fields().iter()).cloned().collect::<Vec<_>>();
        let schema = Arc::new(Schema::new(fields));
        let partitions = slot_input.properties().output_partitioning().partition_count();
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&schema)),
            Partitioning::UnknownPartitioning(partitions),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        Self {
            id,
            dir,
            rows,
            schema,
            slots,
            models,
            slot_input,
            model_row: Mutex::new(None),
            embedded,
            properties,
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn dir(&self) -> &str {
        &self.dir
    }

    /// Reader partitions in the whole plan, before any restriction.
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// The schema of the materialised rows (without the models' columns).
    pub fn rows_schema(&self) -> &SchemaRef {
        &self.rows
    }

    /// The fit's row, once for all partitions of this instance.
    fn model_row(&self, context: &Arc<TaskContext>) -> Result<ModelRow> {
        let mut model_row = self.model_row.lock().map_err(|_| materialize_error("a reader's model lock was poisoned"))?;
        if let Some(row) = model_row.as_ref() {
            return Ok(row.clone());
        }
        let stream = self.models.execute(0, Arc::clone(context))?;
        let row = async move {
            let schema = stream.schema();
            let batches: Vec<RecordBatch> = stream.try_collect().await.map_err(Arc::new)?;
            let batch = concat_batches(&schema, &batches).map_err(|e| Arc::new(e.into()))?;
            if batch.num_rows() != 1 {
                return Err(Arc::new(materialize_error(format!("the fit gave {} rows where one was expected", batch.num_rows()))));
            }
            Ok(Arc::new(batch))
        }
        .boxed()
        .shared();
        *model_row = Some(row.clone());
        Ok(row)
    }
}

impl DisplayAs for MaterializeReadExec {
    fn fmt_as(&self, _format: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "MaterializeReadExec: id={}, slots={}", self.id, self.slots)
    }
}

/// `rows` with the model's columns, each the model's one value repeated (a dictionary
/// stays a dictionary: one key per row).
fn with_model(rows: RecordBatch, model: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    let count = rows.num_rows();
    let zeros = UInt32Array::from(vec![0u32; count]);
    let mut columns = rows.columns().to_vec();
    for column in model.columns() {
        columns.push(take(column.as_ref(), &zeros, None)?);
    }
    Ok(RecordBatch::try_new_with_options(Arc::clone(schema), columns, &RecordBatchOptions::new().with_row_count(Some(count)))?)
}

impl ExecutionPlan for MaterializeReadExec {
    fn name(&self) -> &str {
        "MaterializeReadExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.models, &self.slot_input]
    }

    fn required_input_distribution(&self) -> Vec<Distribution> {
        vec![Distribution::SinglePartition, Distribution::UnspecifiedDistribution]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false, false]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![false, false]
    }

    fn apply_expressions(&self, _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(self: Arc<Self>, children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        let [models, slot_input] = children.as_slice() else {
            return Err(materialize_error("MaterializeReadExec takes the models and its slots"));
        };
        let (id, dir, rows) = (self.id.clone(), self.dir.clone(), Arc::clone(&self.rows));
        Ok(Arc::new(Self::build(id, dir, rows, self.slots, Arc::clone(models), Arc::clone(slot_input), self.embedded)))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let folder = Folder::of(&self.dir, &self.id, context.session_config().options())?;
        let hold = lease::hold(folder.clone(), self.embedded);
        let model = self.model_row(&context)?;
        let slot_input = Arc::clone(&self.slot_input);
        let (slots, rows, schema) = (self.slots, Arc::clone(&self.rows), Arc::clone(&self.schema));
        let parts_read: Count = MetricBuilder::new(&self.metrics).counter("parts_read", partition);
        let batches = async move {
            let model = model.await.map_err(DataFusionError::Shared)?;
            let slot = read_slot(&slot_input, partition, context).await?;
            let parts = complete_parts(&folder.store, &folder.base, &folder.shown).await?;
            let mine: Vec<Path> = parts.into_iter().filter(|(index, _)| index % slots == slot).map(|(_, path)| path).collect();
            parts_read.add(mine.len());
            let store = Arc::clone(&folder.store);
            let reads = futures::stream::iter(mine.into_iter().map(Ok::<_, DataFusionError>))
                .map_ok(move |path| read_part(Arc::clone(&store), path, Arc::clone(&rows)))
                .try_flatten()
                // The lease lives as long as the stream: the parts stay while it reads.
                .map(move |batch| {
                    let _hold = &hold;
                    with_model(batch?, &model, &schema)
                });
            Ok::<_, DataFusionError>(reads)
        };
        let stream = futures::stream::once(batches).try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(Arc::clone(&self.schema), stream)))
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
            "{shown} holds {} of {} parts after the fit: they are on another machine's disk (on a multi-host \
             cluster, set verger.materialize.dir to storage every executor shares, e.g. s3://bucket/tmp), or something \
             else deleted them",
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::one_liner::materialize::{MaterializeWriteExec, part_name};
    use crate::one_liner::release::MaterializeReleaseExec;
    use datafusion::arrow::array::{AsArray, Int32Array};
    use datafusion::arrow::datatypes::{DataType, Field, Int32Type};
    use datafusion::catalog::memory::MemorySourceConfig;
    use datafusion::prelude::SessionContext;

    fn batch(name: &str, values: &[i32]) -> Result<RecordBatch> {
        let schema = Arc::new(Schema::new(vec![Field::new(name, DataType::Int32, false)]));
        Ok(RecordBatch::try_new(schema, vec![Arc::new(Int32Array::from(values.to_vec()))])?)
    }

    fn error(e: impl ToString) -> DataFusionError {
        materialize_error(e.to_string())
    }

    /// A one-row "model" of one column `m`.
    fn model(value: i32) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(MemorySourceConfig::try_new_exec(&[vec![batch("m", &[value])?]], batch("m", &[])?.schema(), None)?)
    }

    /// Every partition's (x, m) pairs, sorted.
    async fn collect_all(plan: &Arc<dyn ExecutionPlan>, context: &Arc<TaskContext>) -> Result<Vec<(i32, Option<i32>)>> {
        let mut values = Vec::new();
        for partition in 0..plan.properties().output_partitioning().partition_count() {
            let batches: Vec<RecordBatch> = plan.execute(partition, Arc::clone(context))?.try_collect().await?;
            for b in batches {
                let x = b.column(0).as_primitive::<Int32Type>();
                let m = b.columns().get(1).map(|m| m.as_primitive::<Int32Type>().clone());
                values.extend((0..b.num_rows()).map(|r| (x.value(r), m.as_ref().map(|m| m.value(r)))));
            }
        }
        values.sort_unstable();
        Ok(values)
    }

    async fn written(dir: &str, id: &str, partitions: &[&[i32]], context: &Arc<TaskContext>) -> Result<()> {
        let batches = partitions.iter().map(|values| Ok(vec![batch("x", values)?])).collect::<Result<Vec<_>>>()?;
        let source = MemorySourceConfig::try_new_exec(&batches, batch("x", &[])?.schema(), None)?;
        let write: Arc<dyn ExecutionPlan> = Arc::new(MaterializeWriteExec::try_new(source, id.to_owned(), dir.to_owned())?);
        let mut passed = collect_all(&write, context).await?.into_iter().map(|(x, _)| x).collect::<Vec<_>>();
        passed.sort_unstable();
        let mut expected: Vec<i32> = partitions.iter().flat_map(|p| p.iter().copied()).collect();
        expected.sort_unstable();
        assert_eq!(passed, expected, "rows pass through");
        Ok(())
    }

    #[tokio::test]
    async fn parts_are_read_back_by_slots_with_the_model_then_released() -> Result<()> {
        let dir = tempfile::tempdir().map_err(error)?;
        let dir_text = dir.path().to_string_lossy().into_owned();
        let context = SessionContext::new().task_ctx();
        written(&dir_text, "1-1-0", &[&[1, 2], &[3], &[4, 5, 6]], &context).await?;

        // Two readers for three parts: every row once, each with the model.
        let read: Arc<dyn ExecutionPlan> =
            Arc::new(MaterializeReadExec::try_new("1-1-0".to_owned(), dir_text.clone(), batch("x", &[])?.schema(), model(7)?, 2)?);
        assert_eq!(read.children()[0].name(), "CoalescePartitionsExec", "the models always come through an exchange");
        let expected: Vec<(i32, Option<i32>)> = (1..=6).map(|x| (x, Some(7))).collect();
        assert_eq!(collect_all(&read, &context).await?, expected);
        assert!(dir.path().join("1-1-0").join(part_name(0, 3)).exists(), "reading deletes nothing: a retried reader needs the parts");
        assert_eq!(collect_all(&read, &context).await?, expected, "a reader run again reads the same rows");

        let whole: Arc<dyn ExecutionPlan> = Arc::new(CoalescePartitionsExec::new(read));
        let release: Arc<dyn ExecutionPlan> = Arc::new(MaterializeReleaseExec::try_new(whole, vec!["1-1-0".to_owned()], dir_text)?);
        assert_eq!(collect_all(&release, &context).await?, expected);
        assert!(!dir.path().join("1-1-0").exists(), "the release removes the folder at the end of the query");
        Ok(())
    }

    /// A part larger than the upload's buffer (10 MB) goes up in several pieces, each batch
    /// handed over on its own; it must read back whole and in order.
    #[tokio::test]
    async fn a_part_written_in_many_pieces_reads_back_in_order() -> Result<()> {
        let dir = tempfile::tempdir().map_err(error)?;
        let dir_text = dir.path().to_string_lossy().into_owned();
        let context = SessionContext::new().task_ctx();
        let rows_per_batch = 64 * 1024;
        let batches = (0..48)
            .map(|b| batch("x", &(b * rows_per_batch..(b + 1) * rows_per_batch).collect::<Vec<i32>>()))
            .collect::<Result<Vec<_>>>()?;
        let source = MemorySourceConfig::try_new_exec(&[batches], batch("x", &[])?.schema(), None)?;
        let write: Arc<dyn ExecutionPlan> = Arc::new(MaterializeWriteExec::try_new(source, "1-1-3".to_owned(), dir_text.clone())?);
        collect_all(&write, &context).await?;
        let part = dir.path().join("1-1-3").join(part_name(0, 1));
        let size = std::fs::metadata(&part).map_err(error)?.len();
        assert!(size > 12 * 1024 * 1024, "the part ({size} bytes) is larger than the upload buffer");

        let read: Arc<dyn ExecutionPlan> =
            Arc::new(MaterializeReadExec::try_new("1-1-3".to_owned(), dir_text, batch("x", &[])?.schema(), model(0)?, 1)?);
        let batches: Vec<RecordBatch> = read.execute(0, Arc::clone(&context))?.try_collect().await?;
        let values: Vec<i32> = batches.iter().flat_map(|b| b.column(0).as_primitive::<Int32Type>().values().to_vec()).collect();
        assert_eq!(values, (0..48 * rows_per_batch).collect::<Vec<i32>>());
        Ok(())
    }

    #[tokio::test]
    async fn a_missing_part_is_an_error_not_fewer_rows() -> Result<()> {
        let dir = tempfile::tempdir().map_err(error)?;
        let dir_text = dir.path().to_string_lossy().into_owned();
        let context = SessionContext::new().task_ctx();
        written(&dir_text, "1-1-2", &[&[1], &[2]], &context).await?;
        std::fs::remove_file(dir.path().join("1-1-2").join(part_name(1, 2))).map_err(error)?;
        let read: Arc<dyn ExecutionPlan> =
            Arc::new(MaterializeReadExec::try_new("1-1-2".to_owned(), dir_text, batch("x", &[])?.schema(), model(0)?, 1)?);
        let message = collect_all(&read, &context).await.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("holds 1 of 2 parts"), "{message}");
        Ok(())
    }

    #[tokio::test]
    async fn a_fit_without_its_one_row_is_an_error() -> Result<()> {
        let dir = tempfile::tempdir().map_err(error)?;
        let dir_text = dir.path().to_string_lossy().into_owned();
        let context = SessionContext::new().task_ctx();
        written(&dir_text, "1-1-4", &[&[1]], &context).await?;
        let none = MemorySourceConfig::try_new_exec(&[vec![]], batch("m", &[])?.schema(), None)?;
        let read: Arc<dyn ExecutionPlan> =
            Arc::new(MaterializeReadExec::try_new("1-1-4".to_owned(), dir_text, batch("x", &[])?.schema(), none, 1)?);
        let message = collect_all(&read, &context).await.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("the fit gave 0 rows"), "{message}");
        Ok(())
    }
}
