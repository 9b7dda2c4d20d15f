//! The `verger` command.

mod allocator;
mod errors;
mod logging;
mod output;
mod progress;
mod repl;
mod sql;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use verger_cluster::{ExecutorOptions, SchedulerOptions};

#[derive(Parser)]
#[command(name = "verger", version, about = "Spark-compatible image pipelines on DataFusion and Ballista")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run SQL: the -f files, then the -c statements, or an interactive shell when neither is given.
    Sql(sql::SqlArgs),
    /// Run a Ballista scheduler with verger's sources and functions.
    Scheduler {
        /// Address to bind. Keep 127.0.0.1 unless other machines must reach this one.
        #[arg(long, default_value = "127.0.0.1")]
        bind_host: String,
        #[arg(long, default_value_t = 50050)]
        port: u16,
        /// Host name executors and clients use to reach this scheduler.
        #[arg(long, default_value = "localhost")]
        external_host: String,
        /// Seconds without a heartbeat before an executor is declared lost and its tasks
        /// are run again on the others (executors beat every 5 s by default).
        #[arg(long, default_value_t = 30)]
        executor_timeout_seconds: u64,
    },
    /// Run a Ballista executor with verger's sources and functions.
    Executor {
        /// Address to bind. Keep 127.0.0.1 unless other machines must reach this one.
        #[arg(long, default_value = "127.0.0.1")]
        bind_host: String,
        /// Host name the scheduler and other executors use to reach this executor.
        #[arg(long)]
        external_host: Option<String>,
        /// Arrow Flight port (results and shuffles).
        #[arg(long, default_value_t = 50051)]
        port: u16,
        /// gRPC port (tasks).
        #[arg(long, default_value_t = 50052)]
        grpc_port: u16,
        /// Scheduler as host:port.
        #[arg(long, default_value = "localhost:50050")]
        scheduler: String,
        /// Task slots (default: number of cores).
        #[arg(long)]
        vcores: Option<usize>,
        /// Directory for shuffle files (default: a temporary one). The executor removes what it
        /// wrote there when it stops with SIGTERM or Ctrl-C.
        #[arg(long)]
        work_dir: Option<String>,
        /// Memory this executor's queries may use, e.g. 4GiB, 512MiB or bytes (default: 70 % of
        /// the host's memory divided by --executors-per-host).
        #[arg(long, value_parser = parse_size)]
        memory: Option<usize>,
        /// Executors sharing this host, for the default --memory: with two executors on one
        /// host, say 2, or both claim 70 % of its memory.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
        executors_per_host: u16,
        /// Seconds between heartbeats to the scheduler.
        #[arg(long, default_value_t = 5)]
        heartbeat_seconds: u64,
    },
    /// Summarise a committed PCA output (rows, labels, k, variance kept, elapsed, images/s)
    /// and draw the scatter plot of its first two components next to it.
    Report {
        /// The output directory a `COPY … TO … STORED AS PARQUET` committed (local or s3://).
        output: String,
        /// Where to write the plot PNG (default: `<output>_pca.png`).
        #[arg(long, conflicts_with = "no_plot")]
        plot: Option<String>,
        /// Print the summary only.
        #[arg(long)]
        no_plot: bool,
        #[arg(long, default_value = "label")]
        label_column: String,
        #[arg(long, default_value = "pca_features")]
        features_column: String,
        /// Read when the output has it: the share of variance the PCA kept.
        #[arg(long, default_value = "explained_variance")]
        explained_column: String,
        /// A setting for reading the output and writing the plot, as key=value (e.g.
        /// s3.endpoint=http://127.0.0.1:9000), as in `verger sql`. Repeatable.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        settings: Vec<String>,
    },
    /// Run a Spark Connect server: PySpark clients (`SparkSession.builder.remote("sc://host:15002")`)
    /// run their DataFrame code and SQL on verger, in this process or on a cluster.
    Connect {
        /// Address to bind. Keep 127.0.0.1 unless other machines must reach this one (then a
        /// token is required).
        #[arg(long, default_value = "127.0.0.1")]
        bind_host: String,
        /// Port to listen on (0: any free port; the server prints the one it got).
        #[arg(long, default_value_t = 15002)]
        port: u16,
        /// Run every query on the Ballista scheduler at df://host:port.
        #[arg(long)]
        cluster: Option<String>,
        /// A setting every session starts with, as key=value (Spark or verger keys). Repeatable.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        settings: Vec<String>,
        /// Bearer token clients must send (sc://host:port/;token=…).
        #[arg(long, env = "VERGER_CONNECT_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// Minutes a session may stay idle before the server drops it.
        #[arg(long, default_value_t = 60)]
        idle_timeout_minutes: u64,
    },
    /// Write deterministic Fruits-360-like test images: OUT/<label>/<i>_100.jpg.
    GenImages {
        /// A local directory, or s3://bucket/prefix (S3 settings from the AWS_* environment).
        #[arg(long)]
        out: String,
        #[arg(long, default_value_t = 4)]
        labels: usize,
        #[arg(long, default_value_t = 10)]
        per_label: usize,
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let server = matches!(cli.command, Command::Scheduler { .. } | Command::Executor { .. } | Command::Connect { .. });
    // A client prints a failed job's error itself: Ballista's log line of it would say it twice.
    logging::init(if server { "info" } else { "warn,ballista_core::execution_plans::distributed_query=off" });
    // After the logger, so that a refusal can be logged; before any thread starts.
    allocator::tune();
    // Before any thread starts: ONNX Runtime reads it when it loads (see the function).
    verger::opt_out_of_onnx_telemetry();
    verger_storage::register_secrets_from_env();

    exit_with_parent();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Planning deep queries recurses; Ballista's own binaries use the same stack size.
        .thread_stack_size(32 * 1024 * 1024)
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("Error: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli.command));
    // A query that failed after planning may have left a model loading (see
    // verger::session_context_with_config); ONNX Runtime must not be torn down under it.
    verger::wait_for_preloads();
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("Error: {}", errors::user_message(&error));
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> datafusion::error::Result<ExitCode> {
    match command {
        Command::Sql(args) => sql::run(args).await,
        Command::Scheduler { bind_host, port, external_host, executor_timeout_seconds } => {
            verger_cluster::run_scheduler(&SchedulerOptions { bind_host, port, external_host, executor_timeout_seconds }).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Executor {
            bind_host,
            external_host,
            port,
            grpc_port,
            scheduler,
            vcores,
            work_dir,
            memory,
            executors_per_host,
            heartbeat_seconds,
        } => {
            let (scheduler_host, scheduler_port) = parse_host_port(&scheduler)?;
            let options = ExecutorOptions {
                bind_host,
                external_host,
                port,
                grpc_port,
                scheduler_host,
                scheduler_port,
                vcores,
                work_dir,
                memory_bytes: memory,
                executors_per_host: usize::from(executors_per_host),
                heartbeat_seconds,
            };
            verger_cluster::run_executor(&options).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Connect { bind_host, port, cluster, settings, token, idle_timeout_minutes } => {
            let settings = settings
                .iter()
                .map(|s| {
                    s.split_once('=')
                        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                        .ok_or_else(|| datafusion::error::DataFusionError::Configuration(format!("--set takes key=value, got '{s}'")))
                })
                .collect::<datafusion::error::Result<Vec<_>>>()?;
            let token = token.filter(|t| !t.is_empty());
            if let Some(token) = &token {
                verger::register_secret(token);
            }
            let options = verger_connect::ConnectOptions {
                bind_host,
                port,
                engine: cluster.map_or(verger_connect::Engine::Embedded, verger_connect::Engine::Cluster),
                settings,
                token,
                idle_timeout: std::time::Duration::from_secs(idle_timeout_minutes.max(1) * 60),
            };
            let ready = |address: std::net::SocketAddr| {
                // Tests and scripts read this line for the port.
                println!("verger connect: listening on sc://{address}");
            };
            let shutdown = async {
                let _ = tokio::signal::ctrl_c().await;
            };
            verger_connect::serve(options, ready, shutdown).await.map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
            verger::wait_for_preloads();
            Ok(ExitCode::SUCCESS)
        }
        Command::Report { output, plot, no_plot, label_column, features_column, explained_column, settings } => {
            let plot = match (no_plot, plot) {
                (true, _) => verger_report::PlotTarget::None,
                (false, Some(path)) => verger_report::PlotTarget::At(path),
                (false, None) => verger_report::PlotTarget::Beside,
            };
            let options = verger_report::ReportOptions { label_column, features_column, explained_column, plot };
            let ctx = verger::session_context()?;
            sql::apply_settings(&ctx, &settings)?;
            let summary = verger_report::report(&ctx, &output, &options).await?;
            print!("{summary}");
            Ok(ExitCode::SUCCESS)
        }
        Command::GenImages { out, labels, per_label, seed } => {
            let (files, bytes) = gen_images(&out, labels, per_label, seed).await?;
            println!("wrote {files} images ({bytes} bytes) in {labels} labels under {out}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Writes the test images to a local directory or an object store; returns (files, bytes).
async fn gen_images(out: &str, labels: usize, per_label: usize, seed: u64) -> datafusion::error::Result<(usize, u64)> {
    use datafusion::error::DataFusionError;
    use object_store::ObjectStoreExt;
    let external = |e: verger_imagegen::GenerateError| DataFusionError::External(Box::new(e));
    let location = verger_storage::StorageLocation::parse(out)?;
    if matches!(location.scheme(), verger_storage::Scheme::Local) {
        let generated =
            verger_imagegen::generate(&PathBuf::from(format!("/{}", location.object_path())), labels, per_label, seed).map_err(external)?;
        return Ok((generated.files, generated.bytes));
    }
    if labels == 0 {
        return Err(external(verger_imagegen::GenerateError::NoLabels));
    }
    let store = verger_storage::object_store_for(&location, &datafusion::config::ConfigOptions::new())?;
    let mut bytes = 0;
    for (label_index, label) in verger_imagegen::label_names(labels).iter().enumerate() {
        for index in 0..per_label {
            let jpeg = verger_imagegen::render_jpeg(label_index, index, seed)
                .map_err(|e| DataFusionError::Execution(format!("could not encode an image: {e}")))?;
            bytes += jpeg.len() as u64;
            let path = location.object_path().join(label.as_str()).join(format!("{index}_100.jpg").as_str());
            store
                .put(&path, jpeg.into())
                .await
                .map_err(|e| DataFusionError::Execution(format!("could not write {}: {e}", location.spark_path(&path))))?;
        }
    }
    Ok((labels * per_label, bytes))
}

/// With `VERGER_PARENT_PID` set (test harnesses set it), the kernel ends this process when the
/// thread that started it exits (`PR_SET_PDEATHSIG`), so that no scheduler or executor outlives
/// a killed test run. A parent already gone before the request was made is caught by comparing
/// the parent's pid with the one the harness gave.
fn exit_with_parent() {
    let Some(pid) = std::env::var("VERGER_PARENT_PID").ok().and_then(|p| p.parse::<libc::pid_t>().ok()) else {
        return;
    };
    // SAFETY: prctl with PR_SET_PDEATHSIG takes a signal number and touches no memory of ours.
    let requested = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) };
    if requested != 0 {
        log::warn!("could not ask to end with parent process {pid}: {}", std::io::Error::last_os_error());
    }
    // SAFETY: getppid has no preconditions.
    if unsafe { libc::getppid() } != pid {
        log::warn!("parent process {pid} is gone: exiting");
        std::process::exit(1);
    }
}

/// `4GiB`, `512MiB`, `64KiB`, `4GB`, or a number of bytes.
fn parse_size(text: &str) -> Result<usize, String> {
    let trimmed = text.trim();
    let split = trimmed.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" | "tib" => 1024.0_f64.powi(4),
        other => return Err(format!("unknown unit '{other}' in '{text}': use B, KiB, MiB, GiB or TiB")),
    };
    match number.parse::<f64>() {
        Ok(n) if n > 0.0 && (n * scale) < usize::MAX as f64 => Ok((n * scale) as usize),
        _ => Err(format!("'{text}' is not a size such as 4GiB or 512MiB")),
    }
}

fn parse_host_port(text: &str) -> datafusion::error::Result<(String, u16)> {
    let invalid = || datafusion::error::DataFusionError::Configuration(format!("expected host:port, got '{text}'"));
    let (host, port) = text.rsplit_once(':').ok_or_else(invalid)?;
    let port = port.parse().map_err(|_| invalid())?;
    Ok((host.to_owned(), port))
}
