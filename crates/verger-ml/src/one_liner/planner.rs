//! Physical planning of the materialisation nodes.

use super::materialize::{MaterializeWrite, MaterializeWriteExec};
use super::read::{MaterializeRead, MaterializeReadExec};
use super::release::{MaterializeRelease, MaterializeReleaseExec};
use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::common::{Result, internal_err};
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::logical_expr::{LogicalPlan, UserDefinedLogicalNode};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_planner::{ExtensionPlanner, PhysicalPlanner};
use std::sync::Arc;

/// Plans [`MaterializeWrite`], [`MaterializeRead`] (one slot per target partition) and
/// [`MaterializeRelease`].
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
        let any = node.as_any();
        let Some(name) = [any.is::<MaterializeWrite>(), any.is::<MaterializeRead>(), any.is::<MaterializeRelease>()]
            .iter()
            .position(|known| *known)
            .map(|i| ["MaterializeWrite", "MaterializeRead", "MaterializeRelease"][i])
        else {
            return Ok(None);
        };
        let [input] = physical_inputs else {
            return internal_err!("{name} takes one input");
        };
        let input = Arc::clone(input);
        if let Some(write) = any.downcast_ref::<MaterializeWrite>() {
            return Ok(Some(Arc::new(MaterializeWriteExec::try_new(input, write.id.clone(), write.dir.clone())?)));
        }
        if let Some(read) = any.downcast_ref::<MaterializeRead>() {
            let slots = session.config().target_partitions();
            let rows = Arc::new(read.rows.as_arrow().clone());
            return Ok(Some(Arc::new(MaterializeReadExec::try_new(read.id.clone(), read.dir.clone(), rows, input, slots)?)));
        }
        if let Some(release) = any.downcast_ref::<MaterializeRelease>() {
            return Ok(Some(Arc::new(MaterializeReleaseExec::try_new(input, release.ids.clone(), release.dir.clone())?)));
        }
        Ok(None)
    }
}
