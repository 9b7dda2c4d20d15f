//! The logical side: [`CommittedWriteRule`] turns `COPY (query) TO 'dir' STORED AS PARQUET`
//! into a [`CommittedWrite`] node, planned by [`crate::ParquetOutputPlanner`].

use crate::error::plan_error;
use crate::options::WriteOptions;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, DFSchemaRef, Result};
use datafusion::config::ConfigOptions;
use datafusion::logical_expr::dml::CopyTo;
use datafusion::logical_expr::{Expr, Extension, LogicalPlan, UserDefinedLogicalNodeCore};
use datafusion::optimizer::AnalyzerRule;
use std::fmt;
use std::sync::Arc;
use verger_storage::StorageLocation;

pub const COMMITTED_WRITE_RULE_NAME: &str = "verger_committed_parquet_write";

/// A query's result written as Parquet files under `output`, committed at once.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CommittedWrite {
    pub input: LogicalPlan,
    pub output: StorageLocation,
    pub options: WriteOptions,
    /// Names the job's staging folder and its files.
    pub job_id: String,
    /// When the client planned the write, in milliseconds since the epoch.
    pub started_at_ms: i64,
    pub schema: DFSchemaRef,
}

impl PartialOrd for CommittedWrite {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        self.job_id.partial_cmp(&other.job_id)
    }
}

/// The one row a committed write returns: rows, files and bytes written.
pub fn summary_schema() -> Schema {
    Schema::new(vec![
        Field::new("count", DataType::UInt64, false),
        Field::new("files", DataType::UInt64, false),
        Field::new("bytes", DataType::UInt64, false),
    ])
}

impl CommittedWrite {
    pub fn new(input: LogicalPlan, output: StorageLocation, options: WriteOptions, job_id: String, started_at_ms: i64) -> Result<Self> {
        let schema = Arc::new(DFSchema::try_from(summary_schema())?);
        Ok(Self { input, output, options, job_id, started_at_ms, schema })
    }
}

impl UserDefinedLogicalNodeCore for CommittedWrite {
    fn name(&self) -> &str {
        "CommittedParquetWrite"
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![&self.input]
    }

    fn schema(&self) -> &DFSchemaRef {
        &self.schema
    }

    fn expressions(&self) -> Vec<Expr> {
        Vec::new()
    }

    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "CommittedParquetWrite: {} mode={} job={}", self.output, self.options.mode, self.job_id)
    }

    fn with_exprs_and_inputs(&self, _exprs: Vec<Expr>, mut inputs: Vec<LogicalPlan>) -> Result<Self> {
        match inputs.pop() {
            Some(input) if inputs.is_empty() => Ok(Self { input, ..self.clone() }),
            _ => Err(plan_error(self.output.to_string(), "a committed write takes one input")),
        }
    }
}

/// Plans `COPY … TO … STORED AS PARQUET` as a committed write (other formats keep
/// DataFusion's COPY). Runs where the statement is planned — the client of a cluster — so
/// relative paths are made absolute there and the job's id and start are fixed once.
#[derive(Debug, Default)]
pub struct CommittedWriteRule;

fn is_parquet(copy: &CopyTo) -> bool {
    copy.file_type.get_ext().eq_ignore_ascii_case("parquet")
}

fn committed_write(copy: CopyTo, config: &ConfigOptions) -> Result<LogicalPlan> {
    let shown = copy.output_url.clone();
    if !copy.partition_by.is_empty() {
        return Err(plan_error(&shown, "PARTITIONED BY is not supported by verger's committed Parquet output yet"));
    }
    let output = StorageLocation::parse(&shown).map_err(|e| plan_error(&shown, e.to_string()))?;
    let options = WriteOptions::from_copy_options(&copy.options, config, &shown)?;
    let job_id = uuid::Uuid::new_v4().simple().to_string();
    let started_at_ms = chrono::Utc::now().timestamp_millis();
    let node = CommittedWrite::new(Arc::unwrap_or_clone(copy.input), output, options, job_id, started_at_ms)?;
    Ok(LogicalPlan::Extension(Extension { node: Arc::new(node) }))
}

impl AnalyzerRule for CommittedWriteRule {
    fn name(&self) -> &str {
        COMMITTED_WRITE_RULE_NAME
    }

    fn analyze(&self, plan: LogicalPlan, config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up(|node| match node {
            LogicalPlan::Copy(copy) if is_parquet(&copy) => Ok(Transformed::yes(committed_write(copy, config)?)),
            other => Ok(Transformed::no(other)),
        })
        .map(|t| t.data)
    }
}
