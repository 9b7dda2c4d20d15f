//! Fit time of `pca_fit` and `standard_scaler_fit` on N × 1280 float32 vectors (the CNN
//! features' shape), through SQL on a 2-partition in-memory table, and how it grows with N.
//!
//!     cargo bench --profile dev -p verger-ml --bench fit [-- 100000]
//!
//! Prints one line per size, a least-squares fit `time = fixed + per_row · N` (the fixed
//! part is the 1280 × 1280 eigendecomposition), and numpy's `cov` + `eigh` on the same
//! shape when the project's virtualenv (.venv, from scripts/setup.sh) has numpy.

#[path = "common/vectors.rs"]
mod vectors;

use datafusion::error::Result;
use datafusion::prelude::{SessionConfig, SessionContext};
use std::sync::Arc;
use std::time::Instant;
use vectors::{FEATURES, feature_table, numpy_fit_seconds};

const PARTITIONS: usize = 2;

async fn time_query(ctx: &SessionContext, sql: &str) -> Result<f64> {
    let start = Instant::now();
    let batches = ctx.sql(sql).await?.collect().await?;
    let elapsed = start.elapsed().as_secs_f64();
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 1);
    Ok(elapsed)
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
        ctx.register_table("v", Arc::new(feature_table(rows, PARTITIONS)?))?;
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
    let python = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    match numpy_fit_seconds(&python, largest) {
        Ok(numpy) => println!("  numpy cov + eigh on {largest} × {FEATURES}: {numpy:.2} s; verger pca_fit / numpy = {:.2}", last.1 / numpy),
        Err(why) => println!("  numpy: not measured ({why}); run scripts/setup.sh for .venv"),
    }
    Ok(())
}
