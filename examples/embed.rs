//! Embedding verger in a Rust program: one call for a session, then Spark's binaryFile read
//! and label extraction in SQL and with the DataFrame API.
//!
//! ```sh
//! cargo run -p verger --example embed -- [IMAGE_DIR]
//! ```
//! Without IMAGE_DIR it generates a small Fruits-360-like tree in a temporary directory.

use datafusion::error::{DataFusionError, Result};
use datafusion::prelude::{col, lit};
use verger::{BinaryFileOptions, BinaryFileReadExt};

#[tokio::main]
async fn main() -> Result<()> {
    let generated = tempfile::tempdir().map_err(|e| DataFusionError::External(Box::new(e)))?;
    let root = match std::env::args().nth(1) {
        Some(dir) => dir,
        None => {
            verger_imagegen::generate(generated.path(), 4, 5, 42).map_err(|e| DataFusionError::External(Box::new(e)))?;
            generated.path().display().to_string()
        }
    };

    // One call: every verger source and function registered.
    let ctx = verger::session_context()?;

    // SQL, as in the seeds' PySpark job.
    ctx.sql(&format!(
        "CREATE EXTERNAL TABLE images STORED AS BINARYFILE LOCATION '{root}' \
         OPTIONS ('pathGlobFilter' '*.jpg', 'recursiveFileLookup' 'true')"
    ))
    .await?;
    ctx.sql(
        "SELECT element_at(split(path, '/'), -2) AS label, count(*) AS images, sum(length) AS bytes \
         FROM images GROUP BY 1 ORDER BY 1",
    )
    .await?
    .show()
    .await?;

    // The same read with the DataFrame API.
    let options = BinaryFileOptions::default().with_path_glob_filter("*.jpg").with_recursive_file_lookup(true);
    ctx.read_binary_files(&root, options)
        .await?
        .filter(col("length").gt(lit(0)))?
        .select(vec![col("path"), col("length")])?
        .limit(0, Some(3))?
        .show()
        .await
}
