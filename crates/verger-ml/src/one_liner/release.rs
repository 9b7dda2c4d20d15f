//! [`MaterializeRelease`]: the root of a query that materialises inputs, which deletes
//! them when the query is over.
//!
//! It needs its input whole (a single partition), so on a cluster it runs in the job's
//! last stage: once its input has ended, every stage that reads the parts has finished
//! for good, and no retry can need them. There it deletes the parts when its input ends
//! without error; after a failure Ballista may still retry a task that reads them, so the
//! lease's expiry removes them instead ([`super::lease`]). An embedded run has no retries:
//! the parts go however the query ends — rows all read, an error, or the stream dropped.

use super::lease;
use super::materialize::{Folder, materialize_error};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DFSchemaRef, Result};
use datafusion::config::ConfigOptions;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Expr, LogicalPlan, UserDefinedLogicalNodeCore};
use datafusion::physical_expr::{Distribution, PhysicalExpr};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties};
use futures::StreamExt;
use std::fmt;
use std::sync::Arc;

/// Deletes what an analysed `plan` materialises (its [`MaterializeRelease`] nodes' inputs),
/// for the client of a query that failed. On a cluster the release at the query's root runs
/// in the job's last stage, so a job that fails before it leaves the parts to the lease's
/// expiry; once the client has the job's failure, Ballista retries none of its tasks, and the
/// client removes them at once. A part written afterwards by a task still being cancelled is
/// left to the lease (see [`super::lease`]).
pub async fn release_failed_query(plan: &LogicalPlan, options: &ConfigOptions) -> Result<()> {
    let mut releases: Vec<(String, Vec<String>)> = Vec::new();
    plan.apply_with_subqueries(|node| {
        if let LogicalPlan::Extension(extension) = node
            && let Some(release) = extension.node.as_any().downcast_ref::<MaterializeRelease>()
        {
            releases.push((release.dir.clone(), release.ids.clone()));
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    for (dir, ids) in releases {
        for id in ids {
            lease::release(&Folder::of(&dir, &id, options)?).await;
        }
    }
    Ok(())
}

/// Passes `input` through; deletes the inputs materialised under `ids` (in `dir`) when
/// the query is over.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MaterializeRelease {
    pub input: LogicalPlan,
    pub ids: Vec<String>,
    pub dir: String,
}

impl PartialOrd for MaterializeRelease {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        self.ids.partial_cmp(&other.ids)
    }
}

impl UserDefinedLogicalNodeCore for MaterializeRelease {
    fn name(&self) -> &str {
        "MaterializeRelease"
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
        write!(f, "MaterializeRelease: ids=[{}]", self.ids.join(", "))
    }

    fn with_exprs_and_inputs(&self, _exprs: Vec<Expr>, mut inputs: Vec<LogicalPlan>) -> Result<Self> {
        match inputs.pop() {
            Some(input) if inputs.is_empty() => Ok(Self { input, ids: self.ids.clone(), dir: self.dir.clone() }),
            _ => Err(materialize_error("MaterializeRelease takes one input")),
        }
    }
}

/// See the module documentation.
#[derive(Debug)]
pub struct MaterializeReleaseExec {
    input: Arc<dyn ExecutionPlan>,
    ids: Vec<String>,
    dir: String,
    /// Planned in this process, which then runs all of the query (embedded).
    embedded: bool,
    properties: Arc<PlanProperties>,
}

impl MaterializeReleaseExec {
    pub fn try_new(input: Arc<dyn ExecutionPlan>, ids: Vec<String>, dir: String) -> Result<Self> {
        Ok(Self::build(input, ids, dir, true))
    }

    /// Rebuilds the plan around a decoded input (on a cluster executor).
    pub fn decoded(input: Arc<dyn ExecutionPlan>, ids: Vec<String>, dir: String) -> Self {
        Self::build(input, ids, dir, false)
    }

    fn build(input: Arc<dyn ExecutionPlan>, ids: Vec<String>, dir: String, embedded: bool) -> Self {
        let given = input.properties();
        let properties = Arc::new(PlanProperties::new(
            given.eq_properties.clone(),
            Partitioning::UnknownPartitioning(1),
            given.emission_type,
            given.boundedness,
        ));
        Self { input, ids, dir, embedded, properties }
    }

    pub fn ids(&self) -> &[String] {
        &self.ids
    }

    pub fn dir(&self) -> &str {
        &self.dir
    }
}

impl DisplayAs for MaterializeReleaseExec {
    fn fmt_as(&self, _format: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "MaterializeReleaseExec: ids=[{}]", self.ids.join(", "))
    }
}

/// Deletes the folders once: when the query ends, or, embedded, when it is dropped.
struct Release {
    folders: Vec<Folder>,
    embedded: bool,
    done: bool,
}

impl Release {
    async fn now(&mut self) {
        if !std::mem::replace(&mut self.done, true) {
            for folder in &self.folders {
                lease::release(folder).await;
            }
        }
    }
}

impl Drop for Release {
    fn drop(&mut self) {
        if self.done || !self.embedded {
            return;
        }
        let folders = std::mem::take(&mut self.folders);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                for folder in &folders {
                    lease::release(folder).await;
                }
            });
        }
    }
}

impl ExecutionPlan for MaterializeReleaseExec {
    fn name(&self) -> &str {
        "MaterializeReleaseExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn required_input_distribution(&self) -> Vec<Distribution> {
        vec![Distribution::SinglePartition]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn apply_expressions(&self, _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(self: Arc<Self>, mut children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        match children.pop() {
            Some(input) if children.is_empty() => Ok(Arc::new(Self::build(input, self.ids.clone(), self.dir.clone(), self.embedded))),
            _ => Err(materialize_error("MaterializeReleaseExec takes one input")),
        }
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let options = context.session_config().options();
        let folders = self.ids.iter().map(|id| Folder::of(&self.dir, id, options)).collect::<Result<Vec<_>>>()?;
        // Until the release, the parts stay: this stage's tasks keep their leases fresh too.
        let holds: Vec<lease::LeaseHold> = folders.iter().map(|folder| lease::hold(folder.clone(), self.embedded)).collect();
        let release = Release { folders, embedded: self.embedded, done: false };
        let input = self.input.execute(partition, context)?;
        let schema = input.schema();
        let stream = futures::stream::unfold(Some((input, release, holds)), |state| async move {
            let (mut input, mut release, holds) = state?;
            match input.next().await {
                Some(Ok(batch)) => Some((Ok(batch), Some((input, release, holds)))),
                Some(Err(error)) => {
                    if release.embedded {
                        release.now().await;
                    }
                    Some((Err(error), None))
                }
                None => {
                    release.now().await;
                    None
                }
            }
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }
}
