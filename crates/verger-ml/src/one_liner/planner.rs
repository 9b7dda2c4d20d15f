//! Physical planning of the materialisation nodes.

use super::materialize::{MaterializeRead, MaterializeReadExec, MaterializeWrite, MaterializeWriteExec};
use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::common::{Result, internal_err};
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::logical_expr::{LogicalPlan, UserDefinedLogicalNode};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_planner::{ExtensionPlanner, PhysicalPlanner};
use std::sync::Arc;

/// Plans [`MaterializeWrite`] and [`MaterializeRead`]; the read side gets one slot per
/// target partition.
#[derive(Debug, Default)]
pub struct MaterializePlanner;

#[async_trait]
impl ExtensionPlanner for MaterializePlanner {
    async fn plan_extension(
        &self,
        _planner: &dyn PhysicalPlanner,
        node: &dyn UserDefinedLogicalNode,
        _logical_inputs: &[&LogicalPlan],
        physical_inputs: &[Arc<dyn ExecutionPlan>],
        session: &dyn Session,
        _planning_ctx: &PhysicalPlanningContext,
    ) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        if let Some(write) = node.as_any().downcast_ref::<MaterializeWrite>() {
            let [input] = physical_inputs else {
                return internal_err!("MaterializeWrite takes one input");
            };
            return Ok(Some(Arc::new(MaterializeWriteExec::try_new(Arc::clone(input), write.id.clone(), write.dir.clone())?)));
        }
        if let Some(read) = node.as_any().downcast_ref::<MaterializeRead>() {
            let slots = session.config().target_partitions();
            let schema = Arc::new(read.schema.as_arrow().clone());
            return Ok(Some(Arc::new(MaterializeReadExec::try_new(read.id.clone(), read.dir.clone(), schema, slots)?)));
        }
        Ok(None)
    }
}
