//! [`ParquetPartWriterExec`]: each partition of the query written as one staged Parquet file.

use crate::error::write_error;
use crate::layout::{staged_file_name, staging_dir};
use crate::options::WriteOptions;
use datafusion::arrow::array::{RecordBatch, StringArray, UInt32Array, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::Result;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::parquet::arrow::AsyncArrowWriter;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{ExecutionPlanMetricsSet, MetricBuilder, MetricsSet};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties};
use futures::StreamExt;
use object_store::buffered::BufWriter;
use std::fmt;
use std::sync::Arc;
use verger_storage::{StorageLocation, object_store_for};

/// A row group is closed once its encoded, buffered data reaches this size, whatever
/// `max_row_group_size` says: with wide rows (hundreds of doubles of PCA features) the default
/// of 1M rows would hold the whole output of a task in memory. Closing one costs several
/// times its size for a moment (the encoded pages, the growing file buffer they are copied
/// into, the upload's parts): at 64 MB, each close raised the job's RSS by ~350 MB, at 16 MB
/// (~7,000 rows of 280 doubles, a common row-group size) by well under 100 MB.
const MAX_BUFFERED_ROW_GROUP_BYTES: usize = 16 << 20;

/// What each write task reports: its staged file (none for an empty partition).
pub fn staged_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("file", DataType::Utf8, false),
        Field::new("partition", DataType::UInt32, false),
        Field::new("rows", DataType::UInt64, false),
        Field::new("bytes", DataType::UInt64, false),
    ]))
}

/// Writes each input partition to `<output>/_temporary/<job>/part-<p>-<attempt>.<codec>.parquet`
/// and returns one row describing the file. The commit
/// ([`crate::ParquetCommitExec`]) moves exactly the files these rows name, so a file left
/// by a failed or retried attempt is never committed.
#[derive(Debug)]
pub struct ParquetPartWriterExec {
    input: Arc<dyn ExecutionPlan>,
    output: StorageLocation,
    job_id: String,
    options: WriteOptions,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl ParquetPartWriterExec {
    pub fn new(input: Arc<dyn ExecutionPlan>, output: StorageLocation, job_id: String, options: WriteOptions) -> Self {
        let partitions = input.properties().output_partitioning().partition_count();
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(staged_schema()),
            Partitioning::UnknownPartitioning(partitions),
            EmissionType::Final,
            Boundedness::Bounded,
        ));
        Self { input, output, job_id, options, properties, metrics: ExecutionPlanMetricsSet::new() }
    }

    pub fn output(&self) -> &StorageLocation {
        &self.output
    }

    pub fn job_id(&self) -> &str {
        &self.job_id
    }

    pub fn options(&self) -> &WriteOptions {
        &self.options
    }
}

impl DisplayAs for ParquetPartWriterExec {
    fn fmt_as(&self, _format: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "ParquetPartWriterExec: {}/_temporary/{}", self.output, self.job_id)
    }
}

impl ExecutionPlan for ParquetPartWriterExec {
    fn name(&self) -> &str {
        "ParquetPartWriterExec"
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

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![false]
    }

    fn apply_expressions(&self, _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(self: Arc<Self>, mut children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        match children.pop() {
            Some(input) if children.is_empty() => {
                Ok(Arc::new(Self::new(input, self.output.clone(), self.job_id.clone(), self.options.clone())))
            }
            _ => Err(write_error(self.output.to_string(), "the part writer takes one input")),
        }
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let config = context.session_config().options();
        let store = object_store_for(&self.output, config)?;
        let properties = self.options.writer_properties_for(config, &self.input.schema())?;
        let shown = self.output.to_string();
        let attempt = uuid::Uuid::new_v4().simple().to_string();
        let name = staged_file_name(partition, &attempt, &self.options.file_suffix());
        let path = staging_dir(&self.output.object_path(), &self.job_id).join(name.as_str());
        let mut input = self.input.execute(partition, context)?;
        let rows_written = MetricBuilder::new(&self.metrics).output_rows(partition);
        let bytes_written = MetricBuilder::new(&self.metrics).counter("bytes_written", partition);
        let write = async move {
            let mut writer = None;
            let mut rows = 0u64;
            while let Some(batch) = input.next().await {
                let batch = batch?;
                if batch.num_rows() == 0 {
                    continue;
                }
                if writer.is_none() {
                    let upload = BufWriter::new(Arc::clone(&store), path.clone());
                    writer = Some(AsyncArrowWriter::try_new(upload, batch.schema(), Some(properties.clone()))?);
                }
                if let Some(writer) = writer.as_mut() {
                    writer.write(&batch).await.map_err(|e| write_error(&shown, format!("{path}: {e}")))?;
                    if writer.in_progress_size() >= MAX_BUFFERED_ROW_GROUP_BYTES {
                        writer.flush().await.map_err(|e| write_error(&shown, format!("{path}: {e}")))?;
                    }
                }
                rows += batch.num_rows() as u64;
            }
            let Some(mut writer) = writer else {
                return Ok(RecordBatch::new_empty(staged_schema()));
            };
            // Finishing completes the upload or fails; the writer counted every byte of the
            // file, footer included, so no HEAD request is needed to learn its size.
            writer.finish().await.map_err(|e| write_error(&shown, format!("{path} was not written: {e}")))?;
            let bytes = writer.bytes_written() as u64;
            rows_written.add(rows as usize);
            bytes_written.add(bytes as usize);
            log::debug!("staged {rows} rows, {bytes} bytes in {path}");
            Ok(RecordBatch::try_new(
                staged_schema(),
                vec![
                    Arc::new(StringArray::from(vec![name])),
                    Arc::new(UInt32Array::from(vec![u32::try_from(partition).unwrap_or(u32::MAX)])),
                    Arc::new(UInt64Array::from(vec![rows])),
                    Arc::new(UInt64Array::from(vec![bytes])),
                ],
            )?)
        };
        Ok(Box::pin(RecordBatchStreamAdapter::new(staged_schema(), futures::stream::once(write))))
    }
}
