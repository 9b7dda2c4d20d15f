//! Runs every `tests/slt/*.slt` file twice: on an embedded verger session and on a cluster of
//! one scheduler and two executors started as processes. `$fixtures` in a file is the root
//! of the fixture tree (tests/support/fixtures.rs). A record can be limited to one of the two
//! runs with `onlyif embedded` / `onlyif cluster`.

#[path = "support/mod.rs"]
mod support;

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;
use sqllogictest::{ColumnType, DBOutput};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// A result column's type as a `query` record spells it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SltType {
    Boolean,
    Integer,
    Float,
    Text,
    DateTime,
    Timestamp,
    Other,
}

impl ColumnType for SltType {
    fn from_char(value: char) -> Option<Self> {
        Some(match value {
            'B' => SltType::Boolean,
            'I' => SltType::Integer,
            'R' => SltType::Float,
            'T' => SltType::Text,
            'D' => SltType::DateTime,
            'P' => SltType::Timestamp,
            '?' => SltType::Other,
            _ => return None,
        })
    }

    fn to_char(&self) -> char {
        match self {
            SltType::Boolean => 'B',
            SltType::Integer => 'I',
            SltType::Float => 'R',
            SltType::Text => 'T',
            SltType::DateTime => 'D',
            SltType::Timestamp => 'P',
            SltType::Other => '?',
        }
    }
}

impl From<&DataType> for SltType {
    fn from(data_type: &DataType) -> Self {
        match data_type {
            DataType::Boolean => SltType::Boolean,
            t if t.is_integer() => SltType::Integer,
            t if t.is_floating()
                || matches!(t, DataType::Decimal32(..) | DataType::Decimal64(..) | DataType::Decimal128(..) | DataType::Decimal256(..)) =>
            {
                SltType::Float
            }
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => SltType::Text,
            DataType::Date32 | DataType::Date64 | DataType::Time32(_) | DataType::Time64(_) => SltType::DateTime,
            DataType::Timestamp(..) => SltType::Timestamp,
            DataType::Dictionary(_, value) => SltType::from(value.as_ref()),
            _ => SltType::Other,
        }
    }
}

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
    type ColumnType = SltType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<SltType>, DataFusionError> {
        let frame = self.ctx.sql(sql).await?;
        let types: Vec<SltType> = frame.schema().fields().iter().map(|field| SltType::from(field.data_type())).collect();
        let batches = frame.collect().await?;
        if types.is_empty() {
            return Ok(DBOutput::StatementComplete(0));
        }
        Ok(DBOutput::Rows { types, rows: format_rows(&batches)? })
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
    runner.with_column_validator(sqllogictest::strict_column_validator);
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
    let files = slt_files();
    if files.is_empty() {
        println!("sqllogictests: no .slt file under tests/slt\n\nsqllogictests: 0 passed, 1 failed");
        return ExitCode::FAILURE;
    }
    let cluster = support::cluster::Cluster::start(2, &[]);
    let (mut passed, mut failed) = (0, 0);
    for file in files {
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
