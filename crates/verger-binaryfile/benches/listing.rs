//! Listing cost against the number of files: `cargo bench -p verger-binaryfile --bench listing`.
//!
//! Builds trees of 10,000 and 100,000 one-byte files (100 label directories) in a temporary
//! directory, lists each with the seeds' options three times, and prints the best time, the
//! time per file and the ratio between the two sizes (linear listing gives ≈ 10×).

use std::time::{Duration, Instant};
use verger_binaryfile::{BinaryFileOptions, list_files};
use verger_storage::StorageLocation;

fn build_tree(root: &std::path::Path, files: usize) -> std::io::Result<()> {
    let labels = 100;
    for label in 0..labels {
        std::fs::create_dir_all(root.join(format!("Label {label}")))?;
    }
    for i in 0..files {
        std::fs::write(root.join(format!("Label {}", i % labels)).join(format!("{i}_100.jpg")), b"x")?;
    }
    Ok(())
}

async fn best_listing_time(root: &std::path::Path, expected: usize) -> Result<Duration, String> {
    let location = StorageLocation::parse(&root.display().to_string()).map_err(|e| e.to_string())?;
    let store = object_store::local::LocalFileSystem::new();
    let options = BinaryFileOptions::default().with_path_glob_filter("*.jpg").with_recursive_file_lookup(true);
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        let listing = list_files(&store, &location, &options, None).await.map_err(|e| e.to_string())?;
        best = best.min(started.elapsed());
        if listing.files.len() != expected {
            return Err(format!("listed {} files, expected {expected}", listing.files.len()));
        }
    }
    Ok(best)
}

fn main() -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    let mut results = Vec::new();
    for files in [10_000, 100_000] {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        build_tree(dir.path(), files).map_err(|e| e.to_string())?;
        let best = runtime.block_on(best_listing_time(dir.path(), files))?;
        println!(
            "listing {files:>7} files: {:>8.1} ms  ({:.2} µs/file)",
            best.as_secs_f64() * 1e3,
            best.as_secs_f64() * 1e6 / files as f64
        );
        results.push(best.as_secs_f64());
    }
    println!("ratio 100k/10k: {:.1}× (linear: 10×)", results[1] / results[0]);
    Ok(())
}
