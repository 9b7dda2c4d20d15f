//! The Fruits! pipeline next to its limit and next to PySpark, in one run (`bench/run.sh`).
//!
//!     cargo bench --profile dev -p verger-cli --bench pipeline -- \
//!         [--images 2000,10000] [--rss 1000,10000,100000] [--pca-rows 100000] \
//!         [--first-row-images 100] [--rounds 3] [--no-pyspark] [--work DIR]
//!
//! For each N of `--images` it generates N Fruits-360-like photos (8 labels, cached under the
//! work directory) and measures, in `--rounds` rounds of one run each, back to back:
//! - the limit: raw ONNX Runtime running the default model on pre-decoded tensors, with
//!   verger's inference threads (one per core, one intra-op thread each) and mini-batch size,
//!   just before and just after the embedded run (the round's limit is their mean);
//! - `sql/fruits_pipeline.sql` end to end with the `verger` binary, embedded, then on a local
//!   cluster (a scheduler and 2 executors of one task slot each on 127.0.0.1), wall time of the
//!   `verger sql` process from start to exit (model load and Parquet commit included);
//! - the seeds' job on PySpark 4.3 `local[2]` (`bench/pyspark_job.py`) on the same photos
//!   (once, after the rounds).
//!
//! The speed of a shared machine drifts by 10 % within a minute, as much as the gaps measured
//! here; each round measures the limit on both sides of the embedded run, so a ratio is
//! taken within a round. Each figure is its median over the rounds, and every round is
//! printed.
//!
//! Then the peak RSS of the embedded pipeline for each N of `--rss`, the `pca_fit` time on
//! `--pca-rows` × 1280 next to numpy's, and the time to the first row of `verger sql` on
//! `--first-row-images` photos (median of 3 runs, after a `sync`). It ends with a table of every
//! figure against its target.

mod common;
#[path = "../../../tests/support/mod.rs"]
mod support;
#[path = "../../verger-ml/benches/common/vectors.rs"]
mod vectors;

use datafusion::config::ConfigOptions;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::cluster::{Cluster, VERGER};
use verger::VergerConfig;

use common::{BenchResult, Finished, Target, cores, image_set, machine, median, mib, print_targets, run_measured};

const LABELS: usize = 8;
/// Tensors decoded once for the raw ONNX Runtime run, cycled to reach N images.
const RAW_SAMPLE: usize = 512;
/// Runs of the first-row query; the median is reported.
const FIRST_ROW_RUNS: usize = 3;
/// Rounds of limit, embedded and cluster runs per N unless `--rounds` says otherwise.
const DEFAULT_ROUNDS: usize = 3;

struct Options {
    images: Vec<usize>,
    rss: Vec<usize>,
    pca_rows: usize,
    first_row_images: usize,
    rounds: usize,
    pyspark: bool,
    work: PathBuf,
}

fn parse_list(value: Option<String>, flag: &str) -> BenchResult<Vec<usize>> {
    let value = value.ok_or_else(|| format!("{flag} needs a value"))?;
    value
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().replace('_', "").parse::<usize>().map_err(|_| format!("{flag}: '{s}' is not a number").into()))
        .collect()
}

fn parse_options(root: &Path) -> BenchResult<Options> {
    let mut options = Options {
        images: vec![2000],
        rss: vec![1000, 10_000, 100_000],
        pca_rows: 100_000,
        first_row_images: 100,
        rounds: DEFAULT_ROUNDS,
        pyspark: true,
        work: root.join(".verger/bench"),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--images" => options.images = parse_list(args.next(), "--images")?,
            "--rss" => options.rss = parse_list(args.next(), "--rss")?,
            "--pca-rows" => options.pca_rows = parse_list(args.next(), "--pca-rows")?.first().copied().unwrap_or(0),
            "--first-row-images" => options.first_row_images = parse_list(args.next(), "--first-row-images")?.first().copied().unwrap_or(0),
            "--rounds" => {
                options.rounds = parse_list(args.next(), "--rounds")?
                    .first()
                    .copied()
                    .filter(|r| *r > 0)
                    .ok_or("--rounds needs a count of at least 1")?
            }
            "--no-pyspark" => options.pyspark = false,
            "--work" => options.work = PathBuf::from(args.next().ok_or("--work needs a directory")?),
            // Passed by `cargo bench` to every bench binary.
            "--bench" => {}
            other => return Err(format!("unknown argument '{other}' (see the header of crates/verger-cli/benches/pipeline.rs)").into()),
        }
    }
    Ok(options)
}

/// Photos per label for about `images` photos over the bench's labels.
fn per_label(images: usize) -> usize {
    images.div_ceil(LABELS).max(1)
}

fn photos(work: &Path, images: usize) -> BenchResult<(PathBuf, usize)> {
    image_set(work, LABELS, per_label(images))
}

/// `sql/fruits_pipeline.sql` on `input` into `output`, embedded or on `cluster`; checks the
/// committed manifest has `expected` rows.
fn verger_pipeline(root: &Path, input: &Path, output: &Path, cluster: Option<&str>, expected: usize) -> BenchResult<Finished> {
    let mut command = Command::new(VERGER);
    command.current_dir(root).args(["sql", "-q", "-f", "sql/fruits_pipeline.sql"]);
    command.arg("--var").arg(format!("input={}/", input.display()));
    command.arg("--var").arg(format!("output={}/", output.display()));
    if let Some(url) = cluster {
        command.args(["--cluster", url]);
    }
    let finished = run_measured(&mut command)?;
    let manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(output.join("_verger_manifest.json"))?)?;
    let rows = manifest.get("rows").and_then(|r| r.as_u64()).unwrap_or(0);
    if rows != expected as u64 {
        return Err(format!("the pipeline wrote {rows} rows for {expected} photos").into());
    }
    Ok(finished)
}

/// ONNX Runtime alone.
struct Limit {
    /// Images/s of the default model on pre-decoded tensors.
    images_per_second: f64,
    /// Milliseconds per image of reading, decoding and preprocessing, on one thread.
    decode_ms: f64,
}

/// Images/s of ONNX Runtime alone: the default model on pre-decoded tensors, verger's
/// inference threads and mini-batch, `images` images (a decoded sample cycled).
fn raw_onnx_runtime(dir: &Path, images: usize) -> BenchResult<Limit> {
    let options = ConfigOptions::new();
    let spec = verger::resolve_model(verger_config::DEFAULT_MODEL, &VergerConfig::default(), &options)?;
    let model = verger::load_model(&spec, &options)?;
    let batch = verger_config::DEFAULT_INFERENCE_BATCH;
    let len = spec.preprocess.tensor_len();
    let mut files = Vec::new();
    for label in std::fs::read_dir(dir)? {
        for file in std::fs::read_dir(label?.path())? {
            files.push(file?.path());
            if files.len() == RAW_SAMPLE {
                break;
            }
        }
    }
    files.truncate(RAW_SAMPLE);
    let sample_batches = (files.len() / batch).max(1);
    files.truncate(sample_batches * batch);
    let mut tensors = vec![0f32; files.len() * len];
    // Timed as the pipeline does it: into one slot that stays in memory (the first touch of
    // fresh pages of the sample would double the figure), then copied out untimed.
    let mut writer = verger_features::TensorWriter::new();
    let mut slot = vec![0f32; len];
    let mut decoding = Duration::ZERO;
    for (file, sample) in files.iter().zip(tensors.chunks_exact_mut(len)) {
        let started = Instant::now();
        let image = verger_features::decode_rgb(&std::fs::read(file)?, verger_features::DecodeLimits::default())?;
        writer.write(&image, &spec.preprocess, verger_features::DecodeLimits::default(), &mut slot)?;
        decoding += started.elapsed();
        sample.copy_from_slice(&slot);
    }
    let decode_ms = 1000.0 * decoding.as_secs_f64() / files.len().max(1) as f64;
    let pool = verger_features::inference_pool()?;
    let run_batch = |index: usize, count: usize| {
        let start = (index % sample_batches) * batch * len;
        model.run(&tensors[start..start + count * len], count, "features").map(|_| ())
    };
    // Every inference thread opens its session before the clock starts.
    for warmed in pool.broadcast(|_| run_batch(0, batch)) {
        warmed?;
    }
    let batches = images.div_ceil(batch);
    let started = Instant::now();
    pool.install(|| (0..batches).into_par_iter().try_for_each(|index| run_batch(index, batch.min(images - index * batch))))?;
    Ok(Limit { images_per_second: images as f64 / started.elapsed().as_secs_f64(), decode_ms })
}

/// One round at N photos: the limit, the pipeline embedded, the limit again, then the
/// pipeline on a local cluster.
struct Round {
    /// The limit measured just before and just after the embedded run.
    limits: (f64, f64),
    decode_ms: f64,
    embedded: Finished,
    cluster: Finished,
    executor_rss: Vec<(String, u64)>,
}

impl Round {
    /// The round's limit: the mean of the two measured around the embedded run.
    fn limit(&self) -> f64 {
        (self.limits.0 + self.limits.1) / 2.0
    }

    fn embedded_rate(&self, n: usize) -> f64 {
        n as f64 / self.embedded.seconds
    }

    fn cluster_rate(&self, n: usize) -> f64 {
        n as f64 / self.cluster.seconds
    }
}

fn measure_round(root: &Path, dir: &Path, out: &Path, n: usize) -> BenchResult<Round> {
    // The limit on both sides of the embedded run: the machine's drift during the run then
    // moves both figures of the ratio alike.
    let raw = raw_onnx_runtime(dir, n)?;
    let embedded = verger_pipeline(root, dir, &out.join(format!("embedded-{n}")), None, n)?;
    let after = raw_onnx_runtime(dir, n)?;
    let cluster = Cluster::start_with_slots(2, 1, &[]);
    let on_cluster = verger_pipeline(root, dir, &out.join(format!("cluster-{n}")), Some(&cluster.url()), n)?;
    let executor_rss = cluster.peak_rss().into_iter().filter(|(name, _)| name.starts_with("executor")).collect();
    drop(cluster);
    let limits = (raw.images_per_second, after.images_per_second);
    Ok(Round { limits, decode_ms: raw.decode_ms, embedded, cluster: on_cluster, executor_rss })
}

/// PySpark's job time on the seeds' job (JVM start excluded), its wall time and k; `as_written`
/// runs it as the seeds do, else tuned (see bench/pyspark_job.py).
fn pyspark(root: &Path, input: &Path, output: &Path, expected: usize, as_written: bool) -> BenchResult<(f64, f64, usize)> {
    // Classic PySpark has a virtualenv of its own (bench/requirements.txt).
    let python = root.join(".venv-spark/bin/python");
    let mut command = Command::new(python);
    command.current_dir(root).arg("bench/pyspark_job.py");
    command.arg("--input").arg(input).arg("--output").arg(output);
    command.arg("--model-dir").arg(root.join(".verger/models/efficientnet_lite0"));
    command.args(["--cores", &cores().to_string(), "--batch", &verger_config::DEFAULT_INFERENCE_BATCH.to_string()]);
    if as_written {
        command.arg("--as-written");
    }
    let finished = run_measured(&mut command)?;
    let line = finished.stdout.lines().rev().find(|l| l.starts_with('{')).ok_or("the PySpark job printed no result")?;
    let result: serde_json::Value = serde_json::from_str(line)?;
    let rows = result.get("rows").and_then(|v| v.as_u64()).unwrap_or(0) as usize;
    if rows != expected {
        return Err(format!("PySpark wrote {rows} rows for {expected} photos").into());
    }
    let job = result.get("job_seconds").and_then(|v| v.as_f64()).ok_or("no job_seconds")?;
    let k = result.get("k").and_then(|v| v.as_u64()).unwrap_or(0) as usize;
    Ok((job, finished.seconds, k))
}

/// Seconds to the first row and to the last of a features query through `verger sql`.
fn first_row(root: &Path, dir: &Path) -> BenchResult<(f64, f64, usize)> {
    let sql = format!(
        "CREATE EXTERNAL TABLE images STORED AS BINARYFILE LOCATION '{}/' OPTIONS ('pathGlobFilter' '*.jpg', 'recursiveFileLookup' 'true'); \
         SELECT path, element_at(split(path, '/'), -2) AS label, image_features(content) AS features FROM images",
        dir.display()
    );
    let started = Instant::now();
    let mut child = Command::new(VERGER)
        .current_dir(root)
        .args(["sql", "-q", "--format", "ndjson", "-c", &sql])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut first = None;
    let mut rows = 0;
    for line in BufReader::new(stdout).lines() {
        line?;
        first.get_or_insert_with(|| started.elapsed().as_secs_f64());
        rows += 1;
    }
    let status = child.wait()?;
    let total = started.elapsed().as_secs_f64();
    if !status.success() {
        return Err(format!("verger sql exited with {status}").into());
    }
    Ok((first.ok_or("no row")?, total, rows))
}

async fn pca_fit_seconds(rows: usize) -> BenchResult<f64> {
    let ctx = verger::session_context()?;
    ctx.register_table("warmup", Arc::new(vectors::feature_table(2000, 2)?))?;
    ctx.sql("SELECT pca_fit(f, 0.9) FROM warmup").await?.collect().await?;
    ctx.register_table("v", Arc::new(vectors::feature_table(rows, cores())?))?;
    let started = Instant::now();
    ctx.sql("SELECT pca_fit(f, 0.9) FROM v").await?.collect().await?;
    Ok(started.elapsed().as_secs_f64())
}

#[tokio::main]
async fn main() -> BenchResult<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize()?;
    let options = parse_options(&root)?;
    std::fs::create_dir_all(&options.work)?;
    let out = options.work.join("out");
    println!("verger pipeline benchmark — {}", machine());
    println!(
        "model {} (EfficientNet-Lite0, 224×224, 1280 features), {} inference threads, mini-batch {}",
        verger_config::DEFAULT_MODEL,
        verger_features::inference_threads(),
        verger_config::DEFAULT_INFERENCE_BATCH
    );
    let mut targets = Vec::new();
    let mut embedded_rss = Vec::new();

    for &wanted in &options.images {
        let (dir, n) = photos(&options.work, wanted)?;
        println!("\nN = {n} photos ({LABELS} labels, 100×100 JPEG)");
        let mut rounds = Vec::with_capacity(options.rounds);
        for round in 1..=options.rounds {
            let measured = measure_round(&root, &dir, &out, n)?;
            println!(
                "  round {round}: limit {:.1} img/s (before {:.1}, after {:.1}) · embedded {:.1} img/s ({:.2} s, peak RSS {:.0} MiB) = {:.3} × limit · cluster {:.1} img/s ({:.2} s) = {:.2} × embedded",
                measured.limit(),
                measured.limits.0,
                measured.limits.1,
                measured.embedded_rate(n),
                measured.embedded.seconds,
                mib(measured.embedded.peak_rss),
                measured.embedded_rate(n) / measured.limit(),
                measured.cluster_rate(n),
                measured.cluster.seconds,
                measured.cluster_rate(n) / measured.embedded_rate(n)
            );
            rounds.push(measured);
        }
        let limit = median(rounds.iter().map(|r| r.limit()));
        let decode_ms = median(rounds.iter().map(|r| r.decode_ms));
        let embedded_rate = median(rounds.iter().map(|r| r.embedded_rate(n)));
        let embedded_seconds = median(rounds.iter().map(|r| r.embedded.seconds));
        let cluster_rate = median(rounds.iter().map(|r| r.cluster_rate(n)));
        let cluster_seconds = median(rounds.iter().map(|r| r.cluster.seconds));
        let embedded_vs_limit = median(rounds.iter().map(|r| r.embedded_rate(n) / r.limit()));
        let cluster_vs_embedded = median(rounds.iter().map(|r| r.cluster_rate(n) / r.embedded_rate(n)));
        let embedded_peak = rounds.iter().map(|r| r.embedded.peak_rss).max().unwrap_or(0);
        let of_rounds = if rounds.len() > 1 { format!("median of {} rounds", rounds.len()) } else { "one round".to_owned() };
        println!("  {of_rounds}:");
        println!("  raw ONNX Runtime limit        {limit:>8.1} images/s  (pre-decoded tensors, nothing else running)");
        let threads = verger_features::inference_threads() as f64;
        println!(
            "  read + decode + resize        {decode_ms:>8.2} ms/image on one thread = {:.1} % of the inference time",
            100.0 * decode_ms * limit / (1000.0 * threads)
        );
        println!(
            "  verger embedded               {embedded_rate:>8.1} images/s  ({embedded_seconds:.2} s wall, peak RSS {:.0} MiB) = {embedded_vs_limit:.3} × the limit",
            mib(embedded_peak)
        );
        let mut executor_peaks = BTreeMap::new();
        for (name, rss) in rounds.iter().flat_map(|r| &r.executor_rss) {
            let peak = executor_peaks.entry(name.as_str()).or_insert(0);
            *peak = (*peak).max(*rss);
        }
        let executor_rss: Vec<String> = executor_peaks.iter().map(|(name, rss)| format!("{name} {:.0} MiB", mib(*rss))).collect();
        println!(
            "  verger cluster (2 executors × 1 slot) {cluster_rate:>8.1} images/s  ({cluster_seconds:.2} s wall; peak RSS {}) = {cluster_vs_embedded:.2} × embedded",
            executor_rss.join(", ")
        );
        embedded_rss.push((n, embedded_peak, embedded_rate));

        targets.push(Target {
            what: format!("N={n}: embedded / raw ORT limit"),
            // Three decimals: 0.896 must not print as 0.90 next to "NO".
            measured: format!("{embedded_rate:.1} / {limit:.1} img/s = {embedded_vs_limit:.3}×"),
            target: "≥ 0.90×".into(),
            met: embedded_vs_limit >= 0.9,
        });
        targets.push(Target {
            what: format!("N={n}: cluster / embedded"),
            measured: format!("{cluster_rate:.1} / {embedded_rate:.1} img/s = {cluster_vs_embedded:.2}×"),
            target: "≥ 0.85×".into(),
            met: cluster_vs_embedded >= 0.85,
        });

        if options.pyspark {
            for as_written in [true, false] {
                let variant = if as_written { "as the seeds run it" } else { "tuned: cached, 1 ORT thread/worker" };
                let (job, wall, k) = pyspark(&root, &dir, &out.join(format!("pyspark-{n}")), n, as_written)?;
                let spark_rate = n as f64 / job;
                println!(
                    "  PySpark 4.3 local[{}], {variant}: {spark_rate:.1} images/s  ({job:.2} s job, {wall:.2} s with JVM start; k = {k}) → verger = {:.2} × PySpark",
                    cores(),
                    embedded_rate / spark_rate
                );
                targets.push(Target {
                    what: format!("N={n}: embedded / PySpark {}", if as_written { "as written" } else { "tuned" }),
                    measured: format!("{embedded_rate:.1} / {spark_rate:.1} img/s = {:.2}×", embedded_rate / spark_rate),
                    target: if as_written { "≥ 4×" } else { "(for information)" }.into(),
                    met: !as_written || embedded_rate >= 4.0 * spark_rate,
                });
            }
        }
    }

    if !options.rss.is_empty() {
        println!("\npeak RSS of the embedded pipeline (`verger sql -f sql/fruits_pipeline.sql`):");
        for &wanted in &options.rss {
            let (dir, n) = photos(&options.work, wanted)?;
            let (rss, rate) = match embedded_rss.iter().find(|(m, _, _)| *m == n) {
                Some(&(_, rss, rate)) => (rss, rate),
                None => {
                    let run = verger_pipeline(&root, &dir, &out.join(format!("embedded-{n}")), None, n)?;
                    embedded_rss.push((n, run.peak_rss, n as f64 / run.seconds));
                    (run.peak_rss, n as f64 / run.seconds)
                }
            };
            println!("  N = {n:>7}: peak RSS {:>6.0} MiB   ({rate:.1} images/s)", mib(rss));
        }
        let mut sizes: Vec<&(usize, u64, f64)> =
            embedded_rss.iter().filter(|(n, _, _)| options.rss.iter().any(|w| LABELS * per_label(*w) == *n)).collect();
        sizes.sort_by_key(|(n, _, _)| *n);
        let peak = sizes.iter().map(|(_, rss, _)| *rss).max().unwrap_or(0);
        let least = sizes.iter().map(|(_, rss, _)| *rss).min().unwrap_or(0);
        targets.push(Target {
            what: format!("peak RSS over N = {}", sizes.iter().map(|(n, _, _)| n.to_string()).collect::<Vec<_>>().join(", ")),
            measured: format!("{:.0}–{:.0} MiB (max/min {:.2})", mib(least), mib(peak), peak as f64 / least.max(1) as f64),
            target: "≤ 1 GiB, flat".into(),
            met: peak <= 1 << 30 && (peak as f64) <= 1.25 * least as f64,
        });
    }

    if options.pca_rows > 0 {
        let rows = options.pca_rows;
        println!("\nPCA fit on {rows} × {}:", vectors::FEATURES);
        let verger_fit = pca_fit_seconds(rows).await?;
        println!("  verger pca_fit(f, 0.9)        {verger_fit:>6.2} s");
        match vectors::numpy_fit_seconds(&root.join(".venv/bin/python"), rows) {
            Ok(numpy) => {
                println!("  numpy cov + eigh              {numpy:>6.2} s   → verger / numpy = {:.2}", verger_fit / numpy);
                targets.push(Target {
                    what: format!("pca_fit {rows} × 1280 / numpy"),
                    measured: format!("{verger_fit:.2} / {numpy:.2} s = {:.2}×", verger_fit / numpy),
                    target: "≤ 1.5×".into(),
                    met: verger_fit <= 1.5 * numpy,
                });
            }
            Err(why) => println!("  numpy: not measured ({why})"),
        }
    }

    if options.first_row_images > 0 {
        let (dir, n) = image_set(&options.work, 4, options.first_row_images.div_ceil(4))?;
        // The runs before this one leave hundreds of MB of Parquet to write back; a latency
        // figure should not wait for the disk to catch up with them.
        Command::new("sync").status()?;
        let mut runs = Vec::new();
        for _ in 0..FIRST_ROW_RUNS {
            runs.push(first_row(&root, &dir)?);
        }
        let all: Vec<String> = runs.iter().map(|(first, _, _)| format!("{first:.2}")).collect();
        runs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (first, total, rows) = runs[runs.len() / 2];
        println!(
            "\n`verger sql` features query on {n} photos: first row after {first:.2} s, all {rows} rows after {total:.2} s (process start to exit; median of {FIRST_ROW_RUNS} runs: {} s)",
            all.join(", ")
        );
        targets.push(Target {
            what: format!("first row, {n} photos"),
            measured: format!("{first:.2} s"),
            target: "≤ 1.5 s".into(),
            met: first <= 1.5,
        });
    }

    print_targets(&targets);
    Ok(())
}
