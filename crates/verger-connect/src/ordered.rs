//! Results in partition order, as Spark's `collect()` and `show()` return them: partition 0's
//! rows, then partition 1's, … DataFusion's own merge of partitions (CoalescePartitionsExec)
//! interleaves them as they come, so that `spark.range(0, 10, 3, 2)` would collect
//! `[6, 9, 0, 3]`. All partitions still run at once, each at most [`AHEAD`] batches ahead of
//! the reader.

use datafusion::dataframe::DataFrame;
use datafusion::error::Result;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::common::spawn_buffered;
use datafusion::physical_plan::limit::GlobalLimitExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{ExecutionPlan, execute_stream};
use futures::StreamExt;
use std::sync::Arc;

/// Batches each partition may compute before its turn.
const AHEAD: usize = 2;

/// `df`'s result, partition after partition. A plan that ends with a limit over merged
/// partitions (`df.limit(n)`, show) takes its rows from the partitions in order.
pub async fn execute_in_partition_order(df: DataFrame) -> Result<SendableRecordBatchStream> {
    let context = Arc::new(df.task_ctx());
    let plan = df.create_physical_plan().await?;
    let (plan, fetch) = match limit_over_merge(&plan) {
        Some((input, fetch)) => (input, fetch),
        None => (plan, None),
    };
    let partitions = plan.properties().output_partitioning().partition_count();
    if partitions <= 1 {
        let stream = execute_stream(plan, context)?;
        return Ok(match fetch {
            Some(rows) => take(stream, rows),
            None => stream,
        });
    }
    let schema = plan.schema();
    let streams =
        (0..partitions).map(|p| plan.execute(p, Arc::clone(&context)).map(|s| spawn_buffered(s, AHEAD))).collect::<Result<Vec<_>>>()?;
    let stream: SendableRecordBatchStream = Box::pin(RecordBatchStreamAdapter::new(schema, futures::stream::iter(streams).flatten()));
    Ok(match fetch {
        Some(rows) => take(stream, rows),
        None => stream,
    })
}

/// The input of a merge of partitions at the root, with the rows it keeps: a
/// `CoalescePartitions(fetch)` (the limit pushed into it), or a `GlobalLimit(skip 0, fetch)`
/// over one.
fn limit_over_merge(plan: &Arc<dyn ExecutionPlan>) -> Option<(Arc<dyn ExecutionPlan>, Option<usize>)> {
    if let Some(merge) = plan.downcast_ref::<CoalescePartitionsExec>() {
        return Some((Arc::clone(merge.input()), merge.fetch()));
    }
    let limit = plan.downcast_ref::<GlobalLimitExec>().filter(|l| l.skip() == 0)?;
    let merge = limit.input().downcast_ref::<CoalescePartitionsExec>()?;
    let fetch = match (limit.fetch(), merge.fetch()) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    Some((Arc::clone(merge.input()), fetch))
}

/// The first `rows` rows of `stream`; the rest is never asked for.
fn take(stream: SendableRecordBatchStream, rows: usize) -> SendableRecordBatchStream {
    let schema = stream.schema();
    let limited = stream
        .scan(rows, |left, batch| {
            let item = match batch {
                _ if *left == 0 => return futures::future::ready(None),
                Ok(batch) => {
                    let batch = batch.slice(0, batch.num_rows().min(*left));
                    *left -= batch.num_rows();
                    Ok(batch)
                }
                Err(error) => Err(error),
            };
            futures::future::ready(Some(item))
        })
        .boxed();
    Box::pin(RecordBatchStreamAdapter::new(schema, limited))
}
