//! Physical planning of [`CommittedWrite`]: part writers, then one commit.
//!
//! ```text
//! ParquetCommitExec                 ← one task, after every part is staged
//!   CoalescePartitionsExec          ← a stage boundary on a cluster
//!     ParquetPartWriterExec         ← one staged file per partition, on the executors
//!       <the query>
//! ```

use crate::commit::ParquetCommitExec;
use crate::error::plan_error;
use crate::layout::is_hidden;
use crate::manifest::read_manifest;
use crate::node::CommittedWrite;
use crate::options::SaveMode;
use crate::writer::ParquetPartWriterExec;
use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::common::{Result, internal_err};
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::logical_expr::{LogicalPlan, UserDefinedLogicalNode};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_planner::{ExtensionPlanner, PhysicalPlanner};
use futures::TryStreamExt;
use std::sync::Arc;
use verger_storage::object_store_for;

#[derive(Debug, Default)]
pub struct ParquetOutputPlanner;

/// Whether the output holds committed data, checked before any work as Spark's driver does
/// (the commit checks again): the files its manifest lists, or for a directory without
/// one, any file a reader would take. Files of an interrupted commit do not count.
async fn holds_data(write: &CommittedWrite, session: &dyn Session) -> Result<bool> {
    let store = object_store_for(&write.output, session.config().options())?;
    let base = write.output.object_path();
    if let Some(manifest) = read_manifest(store.as_ref(), &base).await? {
        return Ok(!manifest.files.is_empty());
    }
    let mut listing = store.list(Some(&base));
    while let Some(meta) = listing.try_next().await.map_err(|e| plan_error(write.output.to_string(), format!("cannot list: {e}")))? {
        if !is_hidden(&base, &meta.location) {
            return Ok(true);
        }
    }
    Ok(false)
}

#[async_trait]
impl ExtensionPlanner for ParquetOutputPlanner {
    async fn plan_extension(
        &self,
        _planner: &dyn PhysicalPlanner,
        node: &dyn UserDefinedLogicalNode,
        _logical_inputs: &[&LogicalPlan],
        physical_inputs: &[Arc<dyn ExecutionPlan>],
        session: &dyn Session,
        _planning_ctx: &PhysicalPlanningContext,
    ) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        let Some(write) = node.as_any().downcast_ref::<CommittedWrite>() else {
            return Ok(None);
        };
        let [input] = physical_inputs else {
            return internal_err!("a committed write takes one input");
        };
        if write.options.mode == SaveMode::ErrorIfExists && holds_data(write, session).await? {
            return Err(plan_error(
                write.output.to_string(),
                "the output already holds data and the mode is 'errorifexists' (Spark's default); \
                 write with OPTIONS ('mode' 'overwrite') to replace it or 'append' to add to it",
            ));
        }
        let writer =
            Arc::new(ParquetPartWriterExec::new(Arc::clone(input), write.output.clone(), write.job_id.clone(), write.options.clone()));
        let reports = Arc::new(CoalescePartitionsExec::new(writer));
        Ok(Some(Arc::new(ParquetCommitExec::new(
            reports,
            write.output.clone(),
            write.job_id.clone(),
            write.options.clone(),
            input.schema(),
            write.started_at_ms,
        ))))
    }
}
