//! Keeping the inference threads fed between batches.
//!
//! A projection that runs a model computes one RecordBatch per poll; whatever consumes it (a
//! fit's moments, a Parquet writer) then works on that batch before polling again, and the
//! inference threads wait. With one partition per core the partitions fall into step, so the
//! waits line up and both cores idle (measured: ~4 % of a 10,000-photo CNN pass). This
//! physical rule puts DataFusion's `BufferExec` above each such projection: the projection
//! runs in its own task, one batch ahead of its consumer.
//!
//! Only the functions with small outputs (`image_features`, `image_classify`: a few KB per
//! image) are buffered; `image_tensor`'s batches (600 KB per image) are not held twice.
//! `BufferExec` is part of DataFusion's plan protocol, so the rewritten plan crosses the
//! scheduler → executor hop unchanged; the rule runs where the plan is made.

use crate::functions::{image_classify, image_features};
use datafusion::common::Result;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::config::ConfigOptions;
use datafusion::physical_expr::ScalarFunctionExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::buffer::BufferExec;
use datafusion::physical_plan::execution_plan::replace_children_if_necessary;
use datafusion::physical_plan::projection::ProjectionExec;
use std::sync::Arc;

pub const READ_AHEAD_RULE_NAME: &str = "verger_inference_read_ahead";

/// `BufferExec`'s capacity in bytes. A batch takes at most the whole capacity, so a capacity
/// of one byte is one batch: one waits (256 images × 1,280 floats, 1.3 MB) while the next is
/// computed.
const READ_AHEAD_BYTES: usize = 1;

/// The functions whose projections are buffered.
const BUFFERED_FUNCTIONS: &[&str] = &[image_features::NAME, image_classify::NAME];

#[derive(Debug, Default)]
pub struct InferenceReadAheadRule;

impl PhysicalOptimizerRule for InferenceReadAheadRule {
    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, _config: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        let plan = plan
            .transform_up(|node| {
                // Already buffered (the rule ran before): leave as is.
                if node.downcast_ref::<BufferExec>().is_some() {
                    return Ok(Transformed::no(node));
                }
                let children = node.children();
                if !children.iter().any(|child| runs_model(child.as_ref())) {
                    return Ok(Transformed::no(node));
                }
                let buffered: Vec<Arc<dyn ExecutionPlan>> = children.into_iter().map(|child| read_ahead(Arc::clone(child))).collect();
                Ok(Transformed::yes(replace_children_if_necessary(node, buffered)?))
            })?
            .data;
        // A query whose last step runs the model (rows straight to the client).
        Ok(read_ahead(plan))
    }

    fn name(&self) -> &str {
        READ_AHEAD_RULE_NAME
    }

    fn schema_check(&self) -> bool {
        true
    }
}

fn read_ahead(plan: Arc<dyn ExecutionPlan>) -> Arc<dyn ExecutionPlan> {
    if runs_model(plan.as_ref()) { Arc::new(BufferExec::new(plan, READ_AHEAD_BYTES)) } else { plan }
}

/// Whether `plan` is a projection calling a buffered function.
fn runs_model(plan: &dyn ExecutionPlan) -> bool {
    let Some(projection) = plan.downcast_ref::<ProjectionExec>() else {
        return false;
    };
    projection.expr().iter().any(|projected| {
        projected
            .expr
            .exists(|expr| Ok(expr.downcast_ref::<ScalarFunctionExpr>().is_some_and(|call| BUFFERED_FUNCTIONS.contains(&call.name()))))
            .unwrap_or(false)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{BinaryArray, RecordBatch};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::datasource::MemTable;
    use datafusion::physical_plan::displayable;
    use datafusion::prelude::SessionContext;

    async fn physical_plan(sql: &str) -> Result<Arc<dyn ExecutionPlan>> {
        let ctx = SessionContext::new();
        for function in crate::image_functions() {
            ctx.register_udf(function.as_ref().clone());
        }
        let schema = Arc::new(Schema::new(vec![Field::new("content", DataType::Binary, true)]));
        let batch = RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(BinaryArray::from(vec![Some(&b"x"[..])]))])?;
        ctx.register_table("t", Arc::new(MemTable::try_new(schema, vec![vec![batch]])?))?;
        ctx.sql(sql).await?.create_physical_plan().await
    }

    fn buffers(plan: &Arc<dyn ExecutionPlan>) -> usize {
        displayable(plan.as_ref()).indent(true).to_string().matches("BufferExec").count()
    }

    #[tokio::test]
    async fn model_projections_are_buffered_once_and_tensors_never() -> Result<()> {
        let rule = InferenceReadAheadRule;
        let config = ConfigOptions::new();
        let features = physical_plan("SELECT image_features(content) AS f FROM t WHERE content IS NOT NULL").await?;
        assert_eq!(buffers(&features), 0);
        let once = rule.optimize(features, &config)?;
        assert_eq!(buffers(&once), 1, "{}", displayable(once.as_ref()).indent(true));
        // Planned again (a scheduler re-optimising a plan): still one buffer.
        assert_eq!(buffers(&rule.optimize(once, &config)?), 1);
        let tensors = rule.optimize(physical_plan("SELECT image_tensor(content) AS t FROM t").await?, &config)?;
        assert_eq!(buffers(&tensors), 0);
        Ok(())
    }
}
