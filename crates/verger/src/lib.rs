//! verger as a library.
//!
//! ```no_run
//! # async fn demo() -> datafusion::error::Result<()> {
//! let ctx = verger::session_context()?;
//! ctx.sql("CREATE EXTERNAL TABLE images STORED AS BINARYFILE LOCATION 'data/fruits' \
//!          OPTIONS ('pathGlobFilter' '*.jpg', 'recursiveFileLookup' 'true')").await?;
//! ctx.sql("SELECT element_at(split(path, '/'), -2) AS label, length FROM images").await?.show().await?;
//! # Ok(()) }
//! ```
//!
//! [`session_context`] is the one call: a DataFusion `SessionContext` with the binaryFile
//! source, Spark's functions, the image, scaling and PCA functions and verger's settings. The same pieces ([`session_config`],
//! [`register_all`], [`scalar_functions`]) configure the client, scheduler and executor
//! sessions of a Ballista cluster (crate `verger-cluster`).

mod functions;

use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::execution::context::QueryPlanner;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_planner::{DefaultPhysicalPlanner, ExtensionPlanner, PhysicalPlanner};
use verger_ml::one_liner::MaterializePlanner;
use verger_parquet::{ParquetOutputPlanner, ParquetTableFactory};

/// The table-factory key of `STORED AS PARQUET`.
const PARQUET_FORMAT: &str = "PARQUET";
use datafusion::dataframe::DataFrame;
use datafusion::error::Result;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::logical_expr::{AggregateUDF, ScalarUDF};
use datafusion::prelude::{SessionConfig, SessionContext};
use std::sync::Arc;

pub use verger_binaryfile::{BINARY_FILE_FORMAT, BinaryFileOptions, BinaryFileTable, BinaryFileTableFactory, ScanProgress};
pub use verger_config::{NULL_REPORT_DIR_SETTING, VergerConfig};
pub use verger_features::{
    ImagePathRule, InferenceReadAheadRule, image_functions, load_model, opt_out_of_onnx_telemetry, resolve_model, set_inference_threads,
    wait_for_preloads,
};
pub use verger_ml::one_liner::{FitTransformRule, calls_one_liner, release_failed_query};
pub use verger_ml::spark_vector::{is_spark_vector, spark_vector_type};
pub use verger_ml::{PcaModel, ScalerModel, ml_aggregate_functions, ml_scalar_functions};
pub use verger_parquet::{CommittedWriteRule, Manifest, SaveMode, read_manifest};
pub use verger_storage::{S3Options, VergerObjectStoreRegistry, redact, register_secret};

/// Rows per batch in a verger session (see [`session_config`]).
pub const WIDE_ROW_BATCH_SIZE: usize = 1024;

/// verger's session settings on top of DataFusion's defaults:
/// - the `verger.*` and `s3.*` setting namespaces;
/// - ANSI mode on (`datafusion.execution.enable_ansi_mode`), as in Spark 4;
/// - identifiers kept as written (`SELECT modificationTime` finds Spark's column);
/// - `information_schema` on, for `SHOW` statements;
/// - batches of 1,024 rows (`datafusion.execution.batch_size`; DataFusion's default is 8,192).
///   verger's rows are wide: 8,192 rows of 1,280 features are 42 MB as float and 84 MB once
///   standardised, and operators that coalesce their output (the join that hands each row its
///   fitted model) built such batches on every partition at once. That cost ~250 MiB of peak
///   RSS at 10,000 photos.
pub fn session_config() -> SessionConfig {
    let mut config = SessionConfig::new()
        .with_batch_size(WIDE_ROW_BATCH_SIZE)
        .with_information_schema(true)
        .with_option_extension(VergerConfig::default())
        .with_option_extension(S3Options::default());
    config.options_mut().execution.enable_ansi_mode = true;
    config.options_mut().sql_parser.enable_ident_normalization = false;
    config
}

/// Every scalar function a verger session has beyond DataFusion's: Spark's
/// (`datafusion-spark` plus verger's Spark-exact ones), verger's image functions
/// (`image_features`, `image_classify`, `image_tensor`, `image_info`) and its transforms
/// (`standard_scale`, `pca_transform`, the one-liner `pca`).
pub fn scalar_functions() -> Vec<Arc<ScalarUDF>> {
    let mut functions = verger_spark::all_spark_functions();
    functions.extend(verger_features::image_functions());
    functions.extend(verger_ml::ml_scalar_functions());
    functions
}

/// Every aggregate function a verger session has beyond DataFusion's: Spark's names
/// DataFusion lacks (`variance`) and the fits `standard_scaler_fit` and `pca_fit`.
pub fn aggregate_functions() -> Vec<Arc<AggregateUDF>> {
    let mut functions = verger_spark::spark_aggregate_functions();
    functions.extend(verger_ml::ml_aggregate_functions());
    functions
}

fn has_rule(state: &datafusion::execution::SessionState, name: &str) -> bool {
    state.analyzer().rules.iter().any(|rule| rule.name() == name)
}

/// Registers verger's functions and its `BINARYFILE` table format on `ctx`, over whatever
/// functions it has, so that each name is claimed by one function only.
pub fn register_all(ctx: &SessionContext) -> Result<()> {
    use datafusion::execution::FunctionRegistry;
    let state = ctx.state_ref();
    let mut state = state.write();
    let mut current: Vec<Arc<ScalarUDF>> = Vec::new();
    for function in state.scalar_functions().values() {
        if !current.iter().any(|f| Arc::ptr_eq(f, function)) {
            current.push(Arc::clone(function));
        }
    }
    let names: Vec<String> = state.scalar_functions().keys().cloned().collect();
    for name in names {
        state.deregister_udf(&name)?;
    }
    for function in functions::merge_functions(current, scalar_functions()) {
        state.register_udf(function)?;
    }
    for function in aggregate_functions() {
        state.register_udaf(function)?;
    }
    state.table_factories_mut().insert(BINARY_FILE_FORMAT.to_owned(), Arc::new(BinaryFileTableFactory));
    state.table_factories_mut().insert(PARQUET_FORMAT.to_owned(), Arc::new(ParquetTableFactory::default()));
    drop(state);
    if !has_rule(&ctx.state(), verger_features::PATH_RULE_NAME) {
        ctx.add_analyzer_rule(Arc::new(ImagePathRule));
    }
    // The rule builds already-coerced expressions, so it may run after type coercion.
    if !has_rule(&ctx.state(), verger_ml::one_liner::FIT_TRANSFORM_RULE_NAME) {
        ctx.add_analyzer_rule(Arc::new(FitTransformRule));
    }
    if !has_rule(&ctx.state(), verger_parquet::COMMITTED_WRITE_RULE_NAME) {
        ctx.add_analyzer_rule(Arc::new(CommittedWriteRule));
    }
    if !ctx.state().physical_optimizers().iter().any(|rule| rule.name() == verger_features::READ_AHEAD_RULE_NAME) {
        let state = ctx.state_ref();
        let mut state = state.write();
        // A rebuilt state would get a new session id; the context (and a cluster) keep the old.
        let session_id = state.session_id().to_owned();
        *state = SessionStateBuilder::new_from_existing(state.clone())
            .with_session_id(session_id)
            .with_physical_optimizer_rule(Arc::new(InferenceReadAheadRule))
            .build();
    }
    // Functions that depend on settings (the image functions' models) see the session's.
    let config = ctx.state().config_options().clone();
    let state = ctx.state_ref();
    let mut state = state.write();
    let updated: Vec<Arc<ScalarUDF>> =
        state.scalar_functions().values().filter_map(|f| f.inner().with_updated_config(&config)).map(Arc::new).collect();
    for function in updated {
        state.register_udf(function)?;
    }
    Ok(())
}

/// A `SessionStateBuilder` with verger's settings `config`, object stores, functions, table
/// formats and plan rules (analyzer rules, and the physical rule that keeps the inference
/// threads fed): the base of every verger session, embedded or in a cluster.
///
/// Its object stores use the `s3.*` settings of `config`, fixed: right for a state built for
/// one query, as a scheduler builds one per job. A context that lives across `SET`s is built
/// with [`session_state_builder_with_registry`] and follows its own settings (as
/// [`session_context_with_config`] does).
pub fn session_state_builder(config: SessionConfig) -> Result<SessionStateBuilder> {
    let registry = Arc::new(VergerObjectStoreRegistry::for_settings(config.options()));
    session_state_builder_with_registry(config, registry)
}

/// [`session_state_builder`] whose object stores come from `registry`; once the context is
/// made, `registry.follow_session(&ctx)` makes every reader and writer of that context use
/// the `s3.*` settings it has at the time.
pub fn session_state_builder_with_registry(config: SessionConfig, registry: Arc<VergerObjectStoreRegistry>) -> Result<SessionStateBuilder> {
    let runtime = RuntimeEnvBuilder::new().with_object_store_registry(registry).build_arc()?;
    let mut builder = SessionStateBuilder::new().with_config(config).with_runtime_env(runtime).with_default_features();
    let mut rules = datafusion::optimizer::Analyzer::new().rules;
    rules.insert(0, Arc::new(ImagePathRule));
    rules.insert(1, Arc::new(FitTransformRule));
    rules.insert(2, Arc::new(CommittedWriteRule));
    builder = builder
        .with_analyzer_rules(rules)
        .with_query_planner(Arc::new(VergerQueryPlanner))
        .with_physical_optimizer_rule(Arc::new(InferenceReadAheadRule));
    let aggregates = builder.aggregate_functions().get_or_insert_with(Vec::new);
    aggregates.retain(|f| !aggregate_functions().iter().any(|v| v.name() == f.name()));
    aggregates.extend(aggregate_functions());
    let defaults = builder.scalar_functions().take().unwrap_or_default();
    *builder.scalar_functions() = Some(functions::merge_functions(defaults, scalar_functions()));
    if let Some(factories) = builder.table_factories() {
        factories.insert(BINARY_FILE_FORMAT.to_owned(), Arc::new(BinaryFileTableFactory));
        factories.insert(PARQUET_FORMAT.to_owned(), Arc::new(ParquetTableFactory::default()));
    }
    Ok(builder)
}

/// DataFusion's physical planner with verger's extension planners: the one-liners'
/// materialisation and the committed Parquet output.
#[derive(Debug, Default)]
pub struct VergerQueryPlanner;

#[async_trait]
impl QueryPlanner for VergerQueryPlanner {
    async fn create_physical_plan(&self, logical_plan: &LogicalPlan, session: &dyn Session) -> Result<Arc<dyn ExecutionPlan>> {
        let planners: Vec<Arc<dyn ExtensionPlanner + Send + Sync>> = vec![Arc::new(MaterializePlanner), Arc::new(ParquetOutputPlanner)];
        DefaultPhysicalPlanner::with_extension_planners(planners).create_physical_plan(logical_plan, session).await
    }
}

/// The one call: an embedded `SessionContext` with every verger source and function.
pub fn session_context() -> Result<SessionContext> {
    session_context_with_config(session_config())
}

/// [`session_context`] with settings of your own (start from [`session_config`]).
///
/// An embedded session runs what it plans, so this also makes the process load a query's
/// models while the query is planned ([`verger_features::preload_when_planning`]); call
/// [`verger_features::wait_for_preloads`] before the process exits.
///
/// Every reader and writer of the context — binaryFile, Parquet, CSV and JSON tables,
/// `read_parquet`, `COPY` — uses the `s3.*` settings the context has when it runs.
pub fn session_context_with_config(config: SessionConfig) -> Result<SessionContext> {
    verger_features::preload_when_planning(true);
    let registry = Arc::new(VergerObjectStoreRegistry::for_settings(config.options()));
    let ctx = SessionContext::new_with_state(session_state_builder_with_registry(config, Arc::clone(&registry))?.build());
    registry.follow_session(&ctx)?;
    Ok(ctx)
}

/// Reading binary files from a `SessionContext`, as `spark.read.format("binaryFile")` does.
#[async_trait]
pub trait BinaryFileReadExt {
    /// A DataFrame of the files under `location` (local path, `file:`, `s3://`, `s3a://`).
    async fn read_binary_files(&self, location: &str, options: BinaryFileOptions) -> Result<DataFrame>;
}

#[async_trait]
impl BinaryFileReadExt for SessionContext {
    async fn read_binary_files(&self, location: &str, options: BinaryFileOptions) -> Result<DataFrame> {
        let state = self.state();
        let table = BinaryFileTable::try_new(&state, location, options).await?;
        self.read_table(Arc::new(table))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_all_adds_the_read_ahead_rule_once_and_keeps_the_session() -> Result<()> {
        let ctx = SessionContext::new();
        let session = ctx.state().session_id().to_owned();
        register_all(&ctx)?;
        register_all(&ctx)?;
        let state = ctx.state();
        let rules = state.physical_optimizers().iter().filter(|rule| rule.name() == verger_features::READ_AHEAD_RULE_NAME).count();
        assert_eq!(rules, 1);
        assert_eq!(state.session_id(), session);
        assert_eq!(ctx.session_id(), session);
        Ok(())
    }
}
