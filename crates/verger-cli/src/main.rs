//! The `verger` command.

mod allocator;
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
    /// Run SQL: statements from -c and -f in order, or an interactive shell when neither is given.
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
        /// Directory for shuffle files.
        #[arg(long)]
        work_dir: Option<String>,
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
    let server = matches!(cli.command, Command::Scheduler { .. } | Command::Executor { .. });
    logging::init(if server { "info" } else { "warn" });
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
            eprintln!("Error: {}", verger_storage::redact(&error.to_string()));
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
        Command::Executor { bind_host, external_host, port, grpc_port, scheduler, vcores, work_dir, heartbeat_seconds } => {
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
                heartbeat_seconds,
            };
            verger_cluster::run_executor(&options).await?;
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

/// With `VERGER_PARENT_PID` set (test harnesses set it), the process exits when that process
/// is gone, so that no scheduler or executor outlives a killed test run.
fn exit_with_parent() {
    let Some(pid) = std::env::var("VERGER_PARENT_PID").ok().and_then(|p| p.parse::<u32>().ok()) else {
        return;
    };
    let parent = PathBuf::from(format!("/proc/{pid}"));
    std::thread::spawn(move || {
        while parent.exists() {
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
        log::warn!("parent process {pid} is gone: exiting");
        std::process::exit(1);
    });
}

fn parse_host_port(text: &str) -> datafusion::error::Result<(String, u16)> {
    let invalid = || datafusion::error::DataFusionError::Configuration(format!("expected host:port, got '{text}'"));
    let (host, port) = text.rsplit_once(':').ok_or_else(invalid)?;
    let port = port.parse().map_err(|_| invalid())?;
    Ok((host.to_owned(), port))
}
