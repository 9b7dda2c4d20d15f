//! verger's Spark Connect server next to `verger sql`, DataFusion's own stream and LakeSail
//! Sail, in one run (`bench/run.sh`, after the pipeline bench).
//!
//!     cargo bench --profile dev -p verger-cli --bench connect -- \
//!         [--images 2000] [--rows 1000000] [--rounds 3] [--no-sail] [--work DIR]
//!
//! Every client is the stock PySpark client (`bench/connect_client.py` in `.venv`), which times
//! its requests after its own imports. In each of `--rounds` rounds, back to back:
//! - the seeds' job (binaryFile → label → `image_features` → Parquet) through `verger sql`
//!   (process start to exit), then with the DataFrame API through a fresh `verger connect`
//!   (server start to the job's end: listening, first answer, job); the server's peak RSS;
//! - `toPandas()` and `toArrow()` of `--rows` rows × (bigint, string, double), next to
//!   DataFusion draining the same plan in this process;
//! - the queries both servers run, against verger and against Sail (`pysail` from
//!   `.venv-spark`): binaryFile → label → groupBy count, and Parquet read → aggregate → write.
//!
//! Each figure is its median over the rounds; the table at the end has every target.

mod common;
#[path = "../../../tests/support/mod.rs"]
mod support;

use common::{BenchResult, Target, image_set, machine, median, mib, print_targets, run_measured};
use datafusion::prelude::{cast, col, lit};
use futures::StreamExt;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::cluster::{VERGER, resident_high_water};
use support::{free_port, wait_for_port};
use verger_spark::range::SparkRange;

const LABELS: usize = 8;
/// Rows of the Parquet table that both servers aggregate.
const PARQUET_ROWS: usize = 2_000_000;

struct Options {
    images: usize,
    rows: usize,
    rounds: usize,
    sail: bool,
    work: PathBuf,
}

fn parse_options(root: &Path) -> BenchResult<Options> {
    let mut options = Options { images: 2000, rows: 1_000_000, rounds: 3, sail: true, work: root.join(".verger/bench") };
    let mut args = std::env::args().skip(1);
    let number = |flag: &str, value: Option<String>| -> BenchResult<usize> {
        let value = value.ok_or_else(|| format!("{flag} needs a value"))?;
        value
            .replace('_', "")
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("{flag}: '{value}' is not a positive number").into())
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--images" => options.images = number("--images", args.next())?,
            "--rows" => options.rows = number("--rows", args.next())?,
            "--rounds" => options.rounds = number("--rounds", args.next())?,
            "--no-sail" => options.sail = false,
            "--work" => options.work = PathBuf::from(args.next().ok_or("--work needs a directory")?),
            "--bench" => {}
            other => return Err(format!("unknown argument '{other}' (see the header of crates/verger-cli/benches/connect.rs)").into()),
        }
    }
    Ok(options)
}

/// A Spark Connect server process, killed on drop.
struct Server {
    child: Child,
    url: String,
    /// From spawn to accepting connections.
    listen_seconds: f64,
}

impl Server {
    /// `verger connect` on a free port, embedded.
    fn verger() -> BenchResult<Server> {
        let started = Instant::now();
        let mut child = Command::new(VERGER)
            .args(["connect", "--port", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("verger connect has no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            match lines.next() {
                Some(line) => {
                    if let Some(url) = line?.split("listening on ").nth(1) {
                        break url.trim().to_owned();
                    }
                }
                None => return Err("verger connect exited before it listened".into()),
            }
        };
        let listen_seconds = started.elapsed().as_secs_f64();
        // Keep reading so that the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Ok(Server { child, url, listen_seconds })
    }

    /// LakeSail Sail's server from `.venv-spark`.
    fn sail(root: &Path) -> BenchResult<Server> {
        let port = free_port();
        let started = Instant::now();
        let child = Command::new(root.join(".venv-spark/bin/python"))
            .args(["-m", "pysail", "spark", "server", "--ip", "127.0.0.1", "--port", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        wait_for_port(port, "Sail", Duration::from_secs(60));
        Ok(Server { child, url: format!("sc://127.0.0.1:{port}"), listen_seconds: started.elapsed().as_secs_f64() })
    }

    fn peak_rss(&self) -> u64 {
        resident_high_water(self.child.id()).unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One run of `bench/connect_client.py`: its JSON answer.
fn client(root: &Path, url: &str, args: &[&str]) -> BenchResult<serde_json::Value> {
    let mut command = Command::new(root.join(".venv/bin/python"));
    command.arg(root.join("bench/connect_client.py")).arg(url).args(args);
    let finished = run_measured(&mut command)?;
    let last = finished.stdout.lines().last().ok_or("the client printed nothing")?;
    Ok(serde_json::from_str(last)?)
}

fn seconds(answer: &serde_json::Value, key: &str) -> BenchResult<f64> {
    answer.get(key).and_then(|v| v.as_f64()).ok_or_else(|| format!("the client's answer has no {key}: {answer}").into())
}

/// The seeds' job through `verger sql`, process start to exit.
fn sql_job(root: &Path, photos: &Path, out: &Path) -> BenchResult<f64> {
    let mut command = Command::new(VERGER);
    command.current_dir(root).args(["sql", "-q", "-c"]);
    command.arg(format!(
        "CREATE EXTERNAL TABLE images STORED AS BINARYFILE LOCATION '{}' OPTIONS ('pathGlobFilter' '*.jpg', 'recursiveFileLookup' 'true')",
        photos.display()
    ));
    command.arg("-c").arg(format!(
        "COPY (SELECT path, element_at(split(path, '/'), -2) AS label, image_features(content) AS features FROM images) TO '{}' STORED AS PARQUET OPTIONS ('mode' 'overwrite')",
        out.display()
    ));
    Ok(run_measured(&mut command)?.seconds)
}

/// DataFusion draining the plan that `spark.range(rows).select(id, cast(id as string), id * 0.5)`
/// becomes, in this process, in a verger session.
async fn datafusion_stream(rows: usize) -> BenchResult<f64> {
    let ctx = verger::session_context()?;
    let partitions = ctx.state().config().target_partitions();
    let started = Instant::now();
    let range = SparkRange::try_new(0, i64::try_from(rows)?, 1, partitions)?;
    let df = ctx.read_table(Arc::new(range))?.select(vec![
        col("id"),
        cast(col("id"), datafusion::arrow::datatypes::DataType::Utf8).alias("s"),
        (col("id") * lit(0.5)).alias("d"),
    ])?;
    let mut stream = df.execute_stream().await?;
    let mut seen = 0;
    while let Some(batch) = stream.next().await {
        seen += batch?.num_rows();
    }
    if seen != rows {
        return Err(format!("DataFusion gave {seen} rows of {rows}").into());
    }
    Ok(started.elapsed().as_secs_f64())
}

/// The Parquet table both servers aggregate: id, one of 8 labels, a double.
fn parquet_table(work: &Path) -> BenchResult<PathBuf> {
    let dir = work.join(format!("connect-parquet-{PARQUET_ROWS}"));
    if !dir.join("_SUCCESS").exists() {
        let mut command = Command::new(VERGER);
        command.args(["sql", "-q", "-c"]).arg(format!(
            "COPY (SELECT value AS id, concat('label-', CAST(value % 8 AS STRING)) AS label, CAST(value AS DOUBLE) * 0.001 AS value \
             FROM generate_series(1, {PARQUET_ROWS})) TO '{}' STORED AS PARQUET OPTIONS ('mode' 'overwrite')",
            dir.display()
        ));
        run_measured(&mut command)?;
    }
    Ok(dir)
}

/// The first of the times the client lists under `key`.
fn first_time(answer: &serde_json::Value, key: &str) -> BenchResult<f64> {
    answer
        .get(key)
        .and_then(|s| s.get(0))
        .and_then(|s| s.as_f64())
        .ok_or_else(|| format!("the client's answer has no {key}: {answer}").into())
}

fn ratio_target(what: &str, ratio: f64, wanted: &str, met: bool) -> Target {
    Target { what: what.into(), measured: format!("{ratio:.2}×"), target: wanted.into(), met }
}

#[tokio::main]
async fn main() -> BenchResult<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize()?;
    let options = parse_options(&root)?;
    std::fs::create_dir_all(&options.work)?;
    println!("verger Spark Connect benchmark — {}", machine());
    let (photos, n) = image_set(&options.work, LABELS, options.images.div_ceil(LABELS))?;
    let photos_arg = photos.display().to_string();
    let out = options.work.join("connect-out");
    let (sql_out, connect_out) = (out.join("sql"), out.join("connect"));
    let parquet = parquet_table(&options.work)?.display().to_string();
    let sail_out = out.join("sail-agg").display().to_string();
    let verger_out = out.join("verger-agg").display().to_string();
    let rows = options.rows.to_string();

    println!("\nthe seeds' job on N = {n} photos; toPandas of {} rows; Parquet aggregate of {PARQUET_ROWS} rows", options.rows);
    let mut sql = Vec::new();
    let mut connect_total = Vec::new();
    let mut connect_job = Vec::new();
    let mut first_answer = Vec::new();
    let mut peak_rss = Vec::new();
    let mut to_pandas = Vec::new();
    let mut to_arrow = Vec::new();
    let mut client_pandas = Vec::new();
    let mut df_stream = Vec::new();
    let mut label_count = (Vec::new(), Vec::new());
    let mut parquet_agg = (Vec::new(), Vec::new());
    let mut sail_to_pandas = Vec::new();
    let mut sail_to_arrow = Vec::new();
    for round in 1..=options.rounds {
        let sql_seconds = sql_job(&root, &photos, &sql_out)?;
        let server = Server::verger()?;
        let job = client(&root, &server.url, &["job", &photos_arg, &connect_out.display().to_string()])?;
        let (first, job_seconds) = (server.listen_seconds + seconds(&job, "first_answer")?, seconds(&job, "seconds")?);
        let rss = server.peak_rss();
        drop(server);
        println!(
            "  round {round}: job · verger sql {sql_seconds:.2} s · Connect {:.2} s (first answer {first:.2} s + job {job_seconds:.2} s; server peak RSS {:.0} MiB) = {:.3} × sql",
            first + job_seconds,
            mib(rss),
            (first + job_seconds) / sql_seconds
        );
        sql.push(sql_seconds);
        connect_total.push(first + job_seconds);
        connect_job.push(job_seconds);
        first_answer.push(first);
        peak_rss.push(rss);

        let server = Server::verger()?;
        let pandas = client(&root, &server.url, &["to_pandas", &rows, "1"])?;
        let pandas_seconds = first_time(&pandas, "seconds")?;
        let arrow_seconds = first_time(&pandas, "arrow_seconds")?;
        let client_seconds = first_time(&pandas, "client_pandas_seconds")?;
        let stream_seconds = datafusion_stream(options.rows).await?;
        let counted = seconds(&client(&root, &server.url, &["label_count", &photos_arg])?, "seconds")?;
        let aggregated = seconds(&client(&root, &server.url, &["parquet_agg", &parquet, &verger_out])?, "seconds")?;
        drop(server);
        print!(
            "           toPandas {pandas_seconds:.2} s (the client's Arrow → pandas {client_seconds:.2} s of it) · toArrow {arrow_seconds:.2} s · DataFusion stream {stream_seconds:.2} s = {:.2} × / {:.2} × · label count {counted:.2} s · Parquet aggregate {aggregated:.2} s",
            pandas_seconds / stream_seconds,
            arrow_seconds / stream_seconds
        );
        client_pandas.push(client_seconds);
        to_arrow.push(arrow_seconds);
        to_pandas.push(pandas_seconds);
        df_stream.push(stream_seconds);
        label_count.0.push(counted);
        parquet_agg.0.push(aggregated);
        if options.sail {
            let sail = Server::sail(&root)?;
            let pandas = client(&root, &sail.url, &["to_pandas", &rows, "1"])?;
            let sail_pandas = first_time(&pandas, "seconds")?;
            let sail_arrow = first_time(&pandas, "arrow_seconds")?;
            let counted = seconds(&client(&root, &sail.url, &["label_count", &photos_arg])?, "seconds")?;
            let aggregated = seconds(&client(&root, &sail.url, &["parquet_agg", &parquet, &sail_out])?, "seconds")?;
            print!(
                " | Sail: toPandas {sail_pandas:.2} s · toArrow {sail_arrow:.2} s · label count {counted:.2} s · Parquet aggregate {aggregated:.2} s"
            );
            sail_to_pandas.push(sail_pandas);
            sail_to_arrow.push(sail_arrow);
            label_count.1.push(counted);
            parquet_agg.1.push(aggregated);
        }
        println!();
    }

    let med = |v: &[f64]| median(v.iter().copied());
    let job_ratio = med(&connect_total) / med(&sql);
    let pandas_ratio = med(&to_pandas) / med(&df_stream);
    let arrow_ratio = med(&to_arrow) / med(&df_stream);
    // The part of toPandas no server can remove: PySpark converting the Arrow it received.
    let client_ratio = med(&client_pandas) / med(&df_stream);
    let rss = peak_rss.iter().copied().max().unwrap_or(0);
    println!(
        "\nmedians: verger sql {:.2} s · Connect {:.2} s (job alone {:.2} s) · first answer {:.2} s · toPandas {:.2} s · toArrow {:.2} s · DataFusion stream {:.2} s",
        med(&sql),
        med(&connect_total),
        med(&connect_job),
        med(&first_answer),
        med(&to_pandas),
        med(&to_arrow),
        med(&df_stream)
    );
    let mut targets = vec![
        ratio_target(&format!("seeds' job at N = {n}: Connect ÷ verger sql"), job_ratio, "≤ 1.05×", job_ratio <= 1.05),
        Target {
            what: "server start to first answer".into(),
            measured: format!("{:.2} s", med(&first_answer)),
            target: "(reported)".into(),
            met: true,
        },
        ratio_target(&format!("toPandas of {} rows ÷ DataFusion stream", options.rows), pandas_ratio, "≤ 1.5×", pandas_ratio <= 1.5),
        ratio_target("  the same through toArrow (no Python objects)", arrow_ratio, "(reported)", true),
        ratio_target("  the client's own Arrow → pandas alone ÷ DataFusion stream", client_ratio, "(reported)", true),
        Target {
            what: format!("server peak RSS, job at N = {n}"),
            measured: format!("{:.0} MiB", mib(rss)),
            target: "≤ 1024 MiB".into(),
            met: rss <= 1 << 30,
        },
    ];
    if options.sail {
        println!(
            "Sail medians: toPandas {:.2} s · label count {:.2} s (verger {:.2} s) · Parquet aggregate {:.2} s (verger {:.2} s)",
            med(&sail_to_pandas),
            med(&label_count.1),
            med(&label_count.0),
            med(&parquet_agg.1),
            med(&parquet_agg.0)
        );
        let count_ratio = med(&label_count.0) / med(&label_count.1);
        let agg_ratio = med(&parquet_agg.0) / med(&parquet_agg.1);
        let pandas_vs_sail = med(&to_pandas) / med(&sail_to_pandas);
        targets.push(ratio_target("binaryFile label count: verger ÷ Sail", count_ratio, "< 1×", count_ratio < 1.0));
        targets.push(ratio_target("Parquet read/aggregate/write: verger ÷ Sail", agg_ratio, "< 1×", agg_ratio < 1.0));
        let arrow_vs_sail = med(&to_arrow) / med(&sail_to_arrow);
        targets.push(ratio_target("toPandas: verger ÷ Sail", pandas_vs_sail, "(reported)", true));
        targets.push(ratio_target("toArrow: verger ÷ Sail", arrow_vs_sail, "(reported)", true));
    }
    print_targets(&targets);
    Ok(())
}
