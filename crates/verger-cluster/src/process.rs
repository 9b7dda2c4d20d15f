use crate::{VergerLogicalCodec, VergerPhysicalCodec};
use ballista::prelude::SessionContextExt;
use ballista_core::extension::SessionConfigExt;
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::{SchedulerConfig, TaskDistributionPolicy};
use ballista_scheduler::scheduler_process::start_server;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use std::net::SocketAddr;
use std::sync::Arc;
use verger::VergerObjectStoreRegistry;

/// verger's session settings, upgraded for Ballista and carrying verger's codecs.
pub fn verger_ballista_config() -> SessionConfig {
    verger::session_config()
        .upgrade_for_ballista()
        .with_ballista_logical_extension_codec(Arc::new(VergerLogicalCodec::default()))
        .with_ballista_physical_extension_codec(Arc::new(VergerPhysicalCodec::default()))
}

/// A client session whose queries run on the Ballista scheduler at `url` (`df://host:port`).
///
/// The client lists files and infers schemas while it plans, so its object stores follow the
/// context's own `s3.*` settings, as an embedded session's do; the settings then travel
/// with each query to the scheduler and the executors.
pub async fn remote_context(url: &str) -> Result<SessionContext> {
    let config = verger_ballista_config();
    let registry = Arc::new(VergerObjectStoreRegistry::for_settings(config.options()));
    let state = verger::session_state_builder_with_registry(config, Arc::clone(&registry))?.build();
    let ctx = SessionContext::remote_with_state(url, state).await?;
    registry.follow_session(&ctx)?;
    // Ballista replaces the function list when it upgrades a state for remote use: register
    // verger's functions again on the finished context.
    verger::register_all(&ctx)?;
    Ok(ctx)
}

fn ballista_error(error: ballista_core::error::BallistaError) -> DataFusionError {
    DataFusionError::External(Box::new(error))
}

/// Where a scheduler listens.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// Address to bind; 127.0.0.1 unless a deployment asks for more.
    pub bind_host: String,
    pub port: u16,
    /// Host name the executors and clients use to reach this scheduler.
    pub external_host: String,
    /// An executor silent this long is lost: its tasks run again elsewhere.
    pub executor_timeout_seconds: u64,
}

/// Ballista scheduler settings with verger's sessions and codecs.
pub fn scheduler_config(options: &SchedulerOptions) -> SchedulerConfig {
    let mut config = SchedulerConfig {
        bind_host: options.bind_host.clone(),
        bind_port: options.port,
        external_host: options.external_host.clone(),
        // Spread tasks over all executors rather than filling one first.
        task_distribution: TaskDistributionPolicy::RoundRobin,
        executor_timeout_seconds: options.executor_timeout_seconds,
        expire_dead_executor_interval_seconds: (options.executor_timeout_seconds / 6).clamp(1, 15),
        no_executors_grace_period_seconds: options.executor_timeout_seconds,
        ..SchedulerConfig::default()
    }
    .with_override_config_producer(Arc::new(verger_ballista_config))
    // Ballista builds a state per job from the job's settings: its object stores (which list
    // the files) use that job's `s3.*` settings.
    .with_override_session_builder(Arc::new(|config: SessionConfig| Ok(verger::session_state_builder(config)?.build())));
    config.override_logical_codec = Some(Arc::new(VergerLogicalCodec::default()));
    config.override_physical_codec = Some(Arc::new(VergerPhysicalCodec::default()));
    config
}

/// Runs a scheduler until the process is stopped.
pub async fn run_scheduler(options: &SchedulerOptions) -> Result<()> {
    let address: SocketAddr = format!("{}:{}", options.bind_host, options.port)
        .parse()
        .map_err(|e| DataFusionError::Configuration(format!("invalid scheduler address {}:{}: {e}", options.bind_host, options.port)))?;
    let config = scheduler_config(options);
    let cluster = BallistaCluster::new_from_config(&config).await.map_err(ballista_error)?;
    start_server(cluster, address, Arc::new(config)).await.map_err(ballista_error)
}

/// Where an executor listens and which scheduler it serves.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// Address to bind; 127.0.0.1 unless a deployment asks for more.
    pub bind_host: String,
    /// Host name the scheduler and other executors use to reach this one.
    pub external_host: Option<String>,
    /// Arrow Flight port (results and shuffles).
    pub port: u16,
    /// gRPC port (tasks).
    pub grpc_port: u16,
    pub scheduler_host: String,
    pub scheduler_port: u16,
    /// Task slots; the number of cores when unset.
    pub vcores: Option<usize>,
    /// Directory for shuffle files; a temporary one when unset. The executor removes the job
    /// directories it wrote there when it stops (SIGTERM, Ctrl-C), and a temporary one whole.
    pub work_dir: Option<String>,
    /// Bytes of memory this executor's queries may use; when unset, 70 % of the host's memory
    /// divided by `executors_per_host`.
    pub memory_bytes: Option<usize>,
    /// How many executors share this host (for the default memory pool).
    pub executors_per_host: usize,
    /// Seconds between heartbeats to the scheduler.
    pub heartbeat_seconds: u64,
}

/// Ballista executor settings with verger's sessions, functions, object stores and codecs.
pub fn executor_config(options: &ExecutorOptions) -> Result<ExecutorProcessConfig> {
    let state = verger::session_state_builder(verger_ballista_config())?.build();
    let defaults = ExecutorProcessConfig::default();
    // Image inference runs one thread per task slot, so that an executor uses the cores it
    // offers the scheduler and no more.
    verger::set_inference_threads(options.vcores.unwrap_or(defaults.vcores));
    Ok(ExecutorProcessConfig {
        bind_host: options.bind_host.clone(),
        external_host: options.external_host.clone(),
        port: options.port,
        grpc_port: options.grpc_port,
        scheduler_host: options.scheduler_host.clone(),
        scheduler_port: options.scheduler_port,
        // Executors may start before their scheduler: keep trying for a while.
        scheduler_connect_timeout_seconds: 60,
        vcores: options.vcores.unwrap_or(defaults.vcores),
        work_dir: options.work_dir.clone(),
        memory_pool_size: options.memory_bytes.map(|bytes| bytes as u64),
        memory_pool_fraction: DEFAULT_MEMORY_SHARE / options.executors_per_host.max(1) as f64,
        // Removes old jobs' shuffle files every 10 minutes, and all of them at shutdown.
        job_data_clean_up_interval_seconds: SHUFFLE_CLEAN_UP_SECONDS,
        executor_heartbeat_interval_seconds: options.heartbeat_seconds,
        print_thread_info: false,
        override_config_producer: Some(Arc::new(verger_ballista_config)),
        // Each task's runtime reads S3 with the task's own `s3.*` settings, those of the
        // client's session when it submitted the query.
        override_runtime_producer: Some(Arc::new(|config: &SessionConfig| {
            RuntimeEnvBuilder::new()
                .with_object_store_registry(Arc::new(VergerObjectStoreRegistry::for_settings(config.options())))
                .build_arc()
        })),
        override_function_registry: Some(Arc::new(BallistaFunctionRegistry::from(&state))),
        override_logical_codec: Some(Arc::new(VergerLogicalCodec::default())),
        override_physical_codec: Some(Arc::new(VergerPhysicalCodec::default())),
        ..defaults
    })
}

/// The share of the host's memory the executors of one host use together by default.
const DEFAULT_MEMORY_SHARE: f64 = 0.7;
/// Seconds between sweeps of finished jobs' shuffle files.
const SHUFFLE_CLEAN_UP_SECONDS: u64 = 600;

/// Runs an executor until the process is stopped. Without a work directory it uses a fresh
/// temporary one, removed when the executor stops (Ballista's own would be deleted at once and
/// then re-created by the first shuffle, and left behind).
pub async fn run_executor(options: &ExecutorOptions) -> Result<()> {
    let temporary = match &options.work_dir {
        Some(_) => None,
        None => Some(
            tempfile::Builder::new()
                .prefix("verger-executor-")
                .tempdir()
                .map_err(|e| DataFusionError::Configuration(format!("cannot create the executor's work directory: {e}")))?,
        ),
    };
    let mut options = options.clone();
    if let Some(dir) = &temporary {
        options.work_dir = Some(dir.path().display().to_string());
    }
    let config = executor_config(&options)?;
    let stopped = start_executor_process(Arc::new(config)).await.map_err(ballista_error);
    if let Some(dir) = temporary
        && let Err(e) = dir.close()
    {
        log::warn!("could not remove the executor's work directory: {e}");
    }
    stopped
}
