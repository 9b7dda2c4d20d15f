//! Fit time of `pca_fit` and `standard_scaler_fit` on N × 1280 float32 vectors (the CNN
//! features' shape), through SQL on a 2-partition in-memory table, and how it grows with N.
//!
//!     cargo bench --profile dev -p verger-ml --bench fit [-- 100000]
//!
//! Prints one line per size, a least-squares fit `time = fixed + per_row · N` (the fixed
//! part is the 1280 × 1280 eigendecomposition), and numpy's `cov` + `eigh` on the same
//! shape when the project's virtualenv (.venv, from scripts/setup.sh) has numpy.

use datafusion::arrow::array::{ArrayRef, FixedSizeListArray, Float32Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::datasource::MemTable;
use datafusion::error::Result;
use datafusion::prelude::{SessionConfig, SessionContext};
use std::sync::Arc;
use std::time::Instant;

const FEATURES: usize = 1280;
const PARTITIONS: usize = 2;

/// `rows` vectors with a few strong directions and noise, spread over the partitions.
fn table(rows: usize) -> Result<MemTable> {
    let item = Arc::new(Field::new_list_field(DataType::Float32, true));
    let schema = Arc::new(Schema::new(vec![Field::new("f", DataType::FixedSizeList(Arc::clone(&item), FEATURES as i32), true)]));
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    let mut partitions = Vec::new();
    for p in 0..PARTITIONS {
        let count = rows / PARTITIONS + usize::from(p < rows % PARTITIONS);
        let mut batches = Vec::new();
        let mut left = count;
        while left > 0 {
            let n = left.min(8192);
            left -= n;
            let mut values = Vec::with_capacity(n * FEATURES);
            for _ in 0..n {
                let (a, b, c) = (next() * 6.0, next() * 3.0, next());
                values.extend((0..FEATURES).map(|j| 1.0 + a * ((j % 7) as f32) + b * ((j % 11) as f32) + c * ((j % 3) as f32) + 0.1 * next()));
            }
            let list: ArrayRef = Arc::new(FixedSizeListArray::try_new(Arc::clone(&item), FEATURES as i32, Arc::new(Float32Array::from(values)), None)?);
            batches.push(RecordBatch::try_new(Arc::clone(&schema), vec![list])?);
        }
        partitions.push(batches);
    }
    MemTable::try_new(schema, partitions)
}

async fn time_query(ctx: &SessionContext, sql: &str) -> Result<f64> {
    let start = Instant::now();
    let batches = ctx.sql(sql).await?.collect().await?;
    let elapsed = start.elapsed().as_secs_f64();
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 1);
    Ok(elapsed)
}

fn numpy_seconds(rows: usize) -> Option<f64> {
    let python = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    let script = format!(
        "import numpy as np, time\n\
         x = np.random.default_rng(1).normal(size=({rows}, {FEATURES})).astype(np.float32)\n\
         t = time.perf_counter()\n\
         c = np.cov(x.astype(np.float64), rowvar=False)\n\
         w, v = np.linalg.eigh(c)\n\
         print(time.perf_counter() - t)"
    );
    let output = std::process::Command::new(python).args(["-c", &script]).output().ok()?;
    String::from_utf8_lossy(&output.stdout).trim().parse().ok()
}

#[tokio::main]
async fn main() -> Result<()> {
    let largest: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(100_000);
    let sizes = [largest / 4, largest / 2, largest];
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(PARTITIONS));
    for function in verger_ml::ml_aggregate_functions() {
        ctx.register_udaf(Arc::unwrap_or_clone(function));
    }
    println!("fit time, {FEATURES} float32 features, {PARTITIONS} partitions (one per core)");
    let mut points = Vec::new();
    for rows in sizes {
        ctx.register_table("v", Arc::new(table(rows)?))?;
        // Warm-up: first-touch of the table and the kernels.
        time_query(&ctx, "SELECT standard_scaler_fit(f) FROM v").await?;
        let scaler = time_query(&ctx, "SELECT standard_scaler_fit(f, true, true) FROM v").await?;
        let pca = time_query(&ctx, "SELECT pca_fit(f, 0.9) FROM v").await?;
        println!(
            "  N = {rows:>7}: pca_fit {pca:>7.2} s ({:>8.0} rows/s)   standard_scaler_fit {scaler:>6.3} s ({:>9.0} rows/s)",
            rows as f64 / pca,
            rows as f64 / scaler
        );
        points.push((rows as f64, pca));
        ctx.deregister_table("v")?;
    }
    // time = fixed + per_row · N, least squares.
    let n = points.len() as f64;
    let (sx, sy) = points.iter().fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
    let (mx, my) = (sx / n, sy / n);
    let sxx: f64 = points.iter().map(|(x, _)| (x - mx) * (x - mx)).sum();
    let sxy: f64 = points.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    let per_row = sxy / sxx;
    let fixed = my - per_row * mx;
    let ss_total: f64 = points.iter().map(|(_, y)| (y - my) * (y - my)).sum();
    let ss_residual: f64 = points.iter().map(|(x, y)| (y - fixed - per_row * x).powi(2)).sum();
    let r2 = 1.0 - ss_residual / ss_total.max(f64::MIN_POSITIVE);
    println!("  growth: time = {fixed:.2} s + {:.2} µs × N   (R² = {r2:.4}: linear in N)", per_row * 1e6);
    let (first, last) = (points[0], points[points.len() - 1]);
    println!(
        "  {}× the rows took {:.2}× the time ({:.2}× without the fixed part)",
        last.0 / first.0,
        last.1 / first.1,
        (last.1 - fixed) / (first.1 - fixed)
    );
    match numpy_seconds(largest) {
        Some(numpy) => println!(
            "  numpy cov + eigh on {largest} × {FEATURES}: {numpy:.2} s; verger pca_fit / numpy = {:.2}",
            last.1 / numpy
        ),
        None => println!("  numpy: not available (run scripts/setup.sh for .venv)"),
    }
    Ok(())
}
