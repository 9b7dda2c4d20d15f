//! Runs every `tests/slt/*.slt` file twice: on an embedded verger session and on a cluster of
//! one scheduler and two executors started as processes. `$fixtures` in a file is the root
//! of the fixture tree (tests/support/fixtures.rs). A record can be limited to one of the two
//! runs with `onlyif embedded` / `onlyif cluster`.

#[path = "support/mod.rs"]
mod support;

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;
use sqllogictest::{DBOutput, DefaultColumnType};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

struct VergerDb {
    ctx: SessionContext,
    engine: &'static str,
}

fn format_rows(batches: &[RecordBatch]) -> Result<Vec<Vec<String>>, DataFusionError> {
    let options = FormatOptions::default().with_null("NULL");
    let mut rows = Vec::new();
    for batch in batches {
        let formatters =
            batch.columns().iter().map(|column| ArrayFormatter::try_new(column.as_ref(), &options)).collect::<Result<Vec<_>, _>>()?;
        for row in 0..batch.num_rows() {
            rows.push(
                formatters
                    .iter()
                    .map(|f| {
                        let text = f.value(row).to_string();
                        if text.is_empty() { "(empty)".to_owned() } else { text }
                    })
                    .collect(),
            );
        }
    }
    Ok(rows)
}

#[async_trait]
impl sqllogictest::AsyncDB for VergerDb {
    type Error = DataFusionError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, DataFusionError> {
        let frame = self.ctx.sql(sql).await?;
        let columns = frame.schema().fields().len();
        let batches = frame.collect().await?;
        if columns == 0 {
            return Ok(DBOutput::StatementComplete(0));
        }
        Ok(DBOutput::Rows { types: vec![DefaultColumnType::Any; columns], rows: format_rows(&batches)? })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        self.engine
    }

    async fn sleep(duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

fn slt_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/slt");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    files
}

async fn run_file(path: &PathBuf, engine: &'static str, cluster_url: &str, fixtures: &str) -> Result<(), String> {
    let ctx = match engine {
        "embedded" => verger::session_context().map_err(|e| e.to_string())?,
        _ => verger_cluster::remote_context(cluster_url).await.map_err(|e| e.to_string())?,
    };
    let mut runner = sqllogictest::Runner::new(move || {
        let ctx = ctx.clone();
        async move { Ok::<_, DataFusionError>(VergerDb { ctx, engine }) }
    });
    runner.add_label(engine);
    runner.set_var("fixtures".to_owned(), fixtures.to_owned());
    // Each engine writes its own outputs: the two runs share the fixtures.
    runner.set_var("engine".to_owned(), engine.to_owned());
    runner.run_file_async(path).await.map_err(|e| e.display(true).to_string())
}

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let fixtures = support::fixtures::Fixtures::build();
    let root = fixtures.root().display().to_string();
    let cluster = support::cluster::Cluster::start(2, &[]);
    let (mut passed, mut failed) = (0, 0);
    for file in slt_files() {
        for engine in ["embedded", "cluster"] {
            let name = format!("{} [{engine}]", file.file_name().map(|n| n.to_string_lossy()).unwrap_or_default());
            match runtime.block_on(run_file(&file, engine, &cluster.url(), &root)) {
                Ok(()) => {
                    println!("test {name} ... ok");
                    passed += 1;
                }
                Err(error) => {
                    println!("test {name} ... FAILED\n{error}");
                    failed += 1;
                }
            }
        }
    }
    if failed > 0 {
        println!("cluster logs:\n{}", cluster.all_logs());
    }
    println!("\nsqllogictests: {passed} passed, {failed} failed");
    if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
