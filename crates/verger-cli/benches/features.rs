//! `image_features` throughput next to its limit, the same model run by ONNX Runtime alone.
//!
//! `cargo bench --profile dev -p verger-cli --bench features [-- N]` (default N = 2000):
//! generates N Fruits-360-like images, then measures, on this machine:
//! - raw ONNX Runtime: the default model on pre-decoded tensors, same inference threads (one
//!   per core, one intra-op thread each) and same mini-batch size as verger;
//! - embedded: `SELECT count(image_features(content)) FROM images`, files to features;
//! - cluster: the same query on a scheduler + 2 executors on 127.0.0.1 (one inference thread each).
//!
//! Each figure is images/s of one timed run after a warm-up that loads the model.

#[path = "../../../tests/support/mod.rs"]
mod support;

use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::Int64Type;
use datafusion::config::ConfigOptions;
use datafusion::prelude::SessionContext;
use rayon::prelude::*;
use std::time::Instant;
use support::cluster::Cluster;
use verger::VergerConfig;

type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

async fn count_features(ctx: &SessionContext, table: &str) -> BenchResult<(i64, f64)> {
    let started = Instant::now();
    let batches = ctx.sql(&format!("SELECT count(image_features(content)) FROM {table}")).await?.collect().await?;
    let seconds = started.elapsed().as_secs_f64();
    let count = batches.first().map(|b| b.column(0).as_primitive::<Int64Type>().value(0)).unwrap_or(0);
    Ok((count, seconds))
}

fn create(table: &str, dir: &std::path::Path, glob: &str) -> String {
    format!(
        "CREATE EXTERNAL TABLE {table} STORED AS BINARYFILE LOCATION '{}' OPTIONS ('recursiveFileLookup' 'true', 'pathGlobFilter' '{glob}')",
        dir.display()
    )
}

fn raw_onnx_runtime(dir: &std::path::Path, batch: usize) -> BenchResult<(usize, f64)> {
    let spec = verger::resolve_model(verger_config_default_model(), &VergerConfig::default(), &ConfigOptions::new())?;
    let model = verger::load_model(&spec, &ConfigOptions::new())?;
    let len = spec.preprocess.tensor_len();
    let mut files = Vec::new();
    for label in std::fs::read_dir(dir)? {
        for file in std::fs::read_dir(label?.path())? {
            files.push(file?.path());
        }
    }
    let mut tensors = vec![0f32; files.len() * len];
    let mut writer = verger_features::TensorWriter::new();
    for (file, slot) in files.iter().zip(tensors.chunks_exact_mut(len)) {
        let image = verger_features::decode_rgb(&std::fs::read(file)?, verger_features::DecodeLimits::default())?;
        writer.write(&image, &spec.preprocess, slot)?;
    }
    let pool = verger_features::inference_pool()?;
    let run = |tensors: &[f32]| -> Result<(), verger_features::FeaturesError> {
        pool.install(|| tensors.par_chunks(batch * len).try_for_each(|chunk| model.run(chunk, chunk.len() / len, "features").map(|_| ())))
    };
    run(&tensors[..(2 * batch * len).min(tensors.len())])?;
    let started = Instant::now();
    run(&tensors)?;
    Ok((files.len(), started.elapsed().as_secs_f64()))
}

fn verger_config_default_model() -> &'static str {
    verger_config::DEFAULT_MODEL
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> BenchResult<()> {
    let images: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(2000);
    let labels = 8;
    let dir = tempfile::tempdir()?;
    verger_imagegen::generate(dir.path(), labels, images.div_ceil(labels), 42)?;
    let total = labels * images.div_ceil(labels);
    let batch = verger_config::DEFAULT_INFERENCE_BATCH;
    let threads = verger_features::inference_threads();
    println!("image_features throughput: {total} generated 100x100 JPEGs, EfficientNet-Lite0, {threads} inference threads, mini-batch {batch}");

    let (raw_images, raw_seconds) = raw_onnx_runtime(dir.path(), batch)?;
    let raw = raw_images as f64 / raw_seconds;
    println!("raw ONNX Runtime (pre-decoded tensors): {raw_images} images in {raw_seconds:.2} s = {raw:.1} images/s");

    let embedded = verger::session_context()?;
    embedded.sql(&create("images", dir.path(), "*.jpg")).await?.collect().await?;
    embedded.sql(&create("warmup", dir.path(), "0_*.jpg")).await?.collect().await?;
    count_features(&embedded, "warmup").await?;
    let (count, seconds) = count_features(&embedded, "images").await?;
    let embedded_rate = count as f64 / seconds;
    println!("embedded, files to features: {count} images in {seconds:.2} s = {embedded_rate:.1} images/s ({:.2} x raw ORT)", embedded_rate / raw);

    let cluster = Cluster::start(2, &[("VERGER_INFERENCE_THREADS", "1")]);
    let remote = verger_cluster::remote_context(&cluster.url()).await?;
    // Two tasks per executor, so that both executors get work whatever the assignment order.
    remote.sql("SET datafusion.execution.target_partitions = 4").await?;
    remote.sql(&create("images", dir.path(), "*.jpg")).await?.collect().await?;
    remote.sql(&create("warmup", dir.path(), "0_*.jpg")).await?.collect().await?;
    count_features(&remote, "warmup").await?;
    let (count, seconds) = count_features(&remote, "images").await?;
    let cluster_rate = count as f64 / seconds;
    println!(
        "cluster (scheduler + 2 executors x 1 inference thread): {count} images in {seconds:.2} s = {cluster_rate:.1} images/s ({:.2} x raw ORT, {:.2} x embedded)",
        cluster_rate / raw,
        cluster_rate / embedded_rate
    );
    Ok(())
}
