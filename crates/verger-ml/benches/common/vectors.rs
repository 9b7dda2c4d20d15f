//! Synthetic CNN-shaped feature vectors for the fit benchmarks (verger-ml's `fit`, verger-cli's
//! `pipeline`): N × 1280 float32 with a few strong directions and noise, spread over partitions.

use datafusion::arrow::array::{ArrayRef, FixedSizeListArray, Float32Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::datasource::MemTable;
use datafusion::error::Result;
use std::sync::Arc;

pub const FEATURES: usize = 1280;

/// An in-memory table `f: FixedSizeList<Float32, 1280>` of `rows` rows in `partitions` partitions.
pub fn feature_table(rows: usize, partitions: usize) -> Result<MemTable> {
    let item = Arc::new(Field::new_list_field(DataType::Float32, true));
    let schema = Arc::new(Schema::new(vec![Field::new("f", DataType::FixedSizeList(Arc::clone(&item), FEATURES as i32), true)]));
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    let mut tables = Vec::new();
    for p in 0..partitions {
        let count = rows / partitions + usize::from(p < rows % partitions);
        let mut batches = Vec::new();
        let mut left = count;
        while left > 0 {
            let n = left.min(8192);
            left -= n;
            let mut values = Vec::with_capacity(n * FEATURES);
            for _ in 0..n {
                let (a, b, c) = (next() * 6.0, next() * 3.0, next());
                values.extend(
                    (0..FEATURES).map(|j| 1.0 + a * ((j % 7) as f32) + b * ((j % 11) as f32) + c * ((j % 3) as f32) + 0.1 * next()),
                );
            }
            let list: ArrayRef =
                Arc::new(FixedSizeListArray::try_new(Arc::clone(&item), FEATURES as i32, Arc::new(Float32Array::from(values)), None)?);
            batches.push(RecordBatch::try_new(Arc::clone(&schema), vec![list])?);
        }
        tables.push(batches);
    }
    MemTable::try_new(schema, tables)
}

/// Seconds numpy takes for the same fit (`cov` + `eigh` in float64) on `rows` × 1280 float32,
/// run by `python` (the project's .venv); the error says why it could not be measured.
pub fn numpy_fit_seconds(python: &std::path::Path, rows: usize) -> std::result::Result<f64, String> {
    let script = format!(
        "import numpy as np, time\n\
         x = np.random.default_rng(1).normal(size=({rows}, {FEATURES})).astype(np.float32)\n\
         t = time.perf_counter()\n\
         c = np.cov(x.astype(np.float64), rowvar=False)\n\
         w, v = np.linalg.eigh(c)\n\
         print(time.perf_counter() - t)"
    );
    let output = std::process::Command::new(python).args(["-c", &script]).output().map_err(|e| format!("{}: {e}", python.display()))?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.trim().parse().map_err(|_| format!("numpy printed '{}' ({})", text.trim(), String::from_utf8_lossy(&output.stderr).trim()))
}
