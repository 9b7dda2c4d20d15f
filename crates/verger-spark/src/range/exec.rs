//! [`RangeExec`]: the scan of a [`SparkRange`], each partition its Spark slice, in batches of
//! the session's batch size.

use super::{RANGE_SCHEMA, SparkRange};
use datafusion::arrow::array::{Int64Array, RecordBatch, RecordBatchOptions};
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{Statistics, internal_err};
use datafusion::error::Result;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties};
use std::fmt;
use std::sync::Arc;

/// Generates a range's `id` column, or only its row count when no column is read
/// (`count(*)`).
#[derive(Debug)]
pub struct RangeExec {
    range: SparkRange,
    with_id: bool,
    properties: Arc<PlanProperties>,
}

impl RangeExec {
    pub fn new(range: SparkRange, with_id: bool) -> Self {
        let schema = if with_id { Arc::clone(&RANGE_SCHEMA) } else { Arc::new(Schema::empty()) };
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(schema),
            Partitioning::UnknownPartitioning(range.partitions()),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        Self { range, with_id, properties }
    }

    pub fn range(&self) -> &SparkRange {
        &self.range
    }

    pub fn with_id(&self) -> bool {
        self.with_id
    }

    fn rows(&self, partition: Option<usize>) -> u64 {
        match partition {
            Some(p) => {
                let (first, end) = self.range.slice(p);
                end - first
            }
            None => self.range.len(),
        }
    }
}

impl DisplayAs for RangeExec {
    fn fmt_as(&self, _format: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let SparkRange { start, end, step, partitions } = self.range;
        write!(f, "RangeExec: start={start}, end={end}, step={step}, partitions={partitions}")?;
        if !self.with_id {
            write!(f, ", projection=[]")?;
        }
        Ok(())
    }
}

impl ExecutionPlan for RangeExec {
    fn name(&self) -> &str {
        "RangeExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn apply_expressions(&self, _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(self: Arc<Self>, children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        if children.is_empty() { Ok(self) } else { internal_err!("RangeExec has no inputs") }
    }

    fn partition_statistics(&self, partition: Option<usize>) -> Result<Arc<Statistics>> {
        let schema = self.properties.eq_properties.schema();
        let mut statistics = Statistics::new_unknown(schema);
        statistics.num_rows = match usize::try_from(self.rows(partition)) {
            Ok(rows) => Precision::Exact(rows),
            Err(_) => Precision::Absent,
        };
        Ok(Arc::new(statistics))
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        if partition >= self.range.partitions() {
            return internal_err!("RangeExec has {} partitions, asked for partition {partition}", self.range.partitions());
        }
        let schema: SchemaRef = Arc::clone(self.properties.eq_properties.schema());
        let (first, end) = self.range.slice(partition);
        let batch_rows = context.session_config().batch_size().max(1) as u64;
        let (range, with_id, out_schema) = (self.range, self.with_id, Arc::clone(&schema));
        let batches = (first..end).step_by(batch_rows as usize).map(move |from| {
            let to = (from + batch_rows).min(end);
            let rows = (to - from) as usize;
            if with_id {
                let ids = Int64Array::from_iter_values((from..to).map(|i| range.value(i)));
                Ok(RecordBatch::try_new(Arc::clone(&out_schema), vec![Arc::new(ids)])?)
            } else {
                let options = RecordBatchOptions::new().with_row_count(Some(rows));
                Ok(RecordBatch::try_new_with_options(Arc::clone(&out_schema), vec![], &options)?)
            }
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, futures::stream::iter(batches))))
    }
}
