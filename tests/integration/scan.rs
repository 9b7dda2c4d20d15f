//! What the binaryFile scan reads: content only when projected, after metadata filters and
//! LIMIT, spread over partitions.

use crate::support::fixtures::Fixtures;
use datafusion::physical_plan::{ExecutionPlan, collect};
use datafusion::prelude::SessionContext;
use std::sync::Arc;
use verger::{BinaryFileOptions, BinaryFileReadExt};
use verger_binaryfile::BinaryFileScanExec;

struct Scan {
    rows: usize,
    files_read: usize,
    bytes_read: usize,
    partitions: usize,
}

fn find_scan(plan: &Arc<dyn ExecutionPlan>) -> Option<&BinaryFileScanExec> {
    if let Some(scan) = plan.downcast_ref::<BinaryFileScanExec>() {
        return Some(scan);
    }
    plan.children().into_iter().find_map(find_scan)
}

async fn run(ctx: &SessionContext, sql: &str) -> Scan {
    let frame = ctx.sql(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    let plan = frame.create_physical_plan().await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    let batches = collect(Arc::clone(&plan), ctx.task_ctx()).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    let scan = find_scan(&plan).unwrap_or_else(|| panic!("no BinaryFileScanExec in the plan of {sql}"));
    let metrics = scan.metrics().unwrap_or_default();
    Scan {
        rows: batches.iter().map(|b| b.num_rows()).sum(),
        files_read: metrics.sum_by_name("files_read").map_or(0, |m| m.as_usize()),
        bytes_read: metrics.sum_by_name("bytes_read").map_or(0, |m| m.as_usize()),
        partitions: scan.properties().output_partitioning().partition_count(),
    }
}

async fn images(fixtures: &Fixtures) -> SessionContext {
    let ctx = verger::session_context().unwrap_or_else(|e| panic!("{e}"));
    let sql = format!(
        "CREATE EXTERNAL TABLE images STORED AS BINARYFILE LOCATION '{}' OPTIONS ('pathGlobFilter' '*.jpg', 'recursiveFileLookup' 'true')",
        fixtures.path("fruits").display()
    );
    ctx.sql(&sql).await.unwrap_or_else(|e| panic!("{e}"));
    ctx
}

#[tokio::test]
async fn content_is_read_only_when_the_query_uses_it() {
    let fixtures = Fixtures::build();
    let ctx = images(&fixtures).await;

    let metadata = run(&ctx, "SELECT path, length, modificationTime FROM images").await;
    assert_eq!((metadata.rows, metadata.files_read, metadata.bytes_read), (6, 6, 0));

    let content = run(&ctx, "SELECT length(content) FROM images").await;
    // 7 + 9 + 6 + 4 + 6 + 3 bytes: the six non-hidden, non-empty *.jpg files.
    assert_eq!((content.rows, content.files_read, content.bytes_read), (6, 6, 35));
}

#[tokio::test]
async fn metadata_filters_and_limit_apply_before_any_content_is_read() {
    let fixtures = Fixtures::build();
    let ctx = images(&fixtures).await;

    let filtered = run(&ctx, "SELECT content FROM images WHERE length > 6").await;
    assert_eq!((filtered.rows, filtered.files_read, filtered.bytes_read), (2, 2, 16));

    let by_label = run(&ctx, "SELECT content FROM images WHERE element_at(split(path, '/'), -2) = 'Banana'").await;
    assert_eq!((by_label.rows, by_label.files_read, by_label.bytes_read), (1, 1, 6));

    let limited = run(&ctx, "SELECT content FROM images LIMIT 2").await;
    assert_eq!(limited.rows, 2);
    assert!(limited.files_read <= 2, "LIMIT 2 read {} files", limited.files_read);
}

#[tokio::test]
async fn files_are_spread_over_the_session_partitions() {
    let fixtures = Fixtures::build();
    let ctx = images(&fixtures).await;
    ctx.sql("SET datafusion.execution.target_partitions = 4").await.unwrap_or_else(|e| panic!("{e}"));
    let scan = run(&ctx, "SELECT length FROM images").await;
    assert_eq!(scan.partitions, 4);
    ctx.sql("SET datafusion.execution.target_partitions = 64").await.unwrap_or_else(|e| panic!("{e}"));
    let scan = run(&ctx, "SELECT length FROM images").await;
    assert_eq!(scan.partitions, 6, "never more partitions than files");
}

#[tokio::test]
async fn the_dataframe_call_reads_what_sql_reads() {
    let fixtures = Fixtures::build();
    let ctx = images(&fixtures).await;
    let options = BinaryFileOptions::default().with_path_glob_filter("*.jpg").with_recursive_file_lookup(true);
    let frame = ctx.read_binary_files(&fixtures.path("fruits").display().to_string(), options).await.unwrap_or_else(|e| panic!("{e}"));
    let from_frame = frame.sort_by(vec![datafusion::prelude::col("path")]).unwrap_or_else(|e| panic!("{e}"));
    let from_frame = datafusion::arrow::util::pretty::pretty_format_batches(&from_frame.collect().await.unwrap_or_else(|e| panic!("{e}")))
        .map(|t| t.to_string())
        .unwrap_or_default();
    let from_sql = ctx.sql("SELECT * FROM images ORDER BY path").await.unwrap_or_else(|e| panic!("{e}"));
    let from_sql = datafusion::arrow::util::pretty::pretty_format_batches(&from_sql.collect().await.unwrap_or_else(|e| panic!("{e}")))
        .map(|t| t.to_string())
        .unwrap_or_default();
    assert_eq!(from_frame, from_sql);
    assert!(from_sql.contains("Café #1 %20 [x],+"));
}

#[tokio::test]
async fn a_relative_location_is_made_absolute() {
    let fixtures = Fixtures::build();
    let ctx = verger::session_context().unwrap_or_else(|e| panic!("{e}"));
    // The tests run from the crate directory: name the fixtures relative to it.
    let cwd = std::env::current_dir().unwrap_or_else(|e| panic!("{e}"));
    let relative: std::path::PathBuf = std::iter::repeat_n("..", cwd.components().count().saturating_sub(1))
        .collect::<std::path::PathBuf>()
        .join(fixtures.path("fruits/Banana").strip_prefix("/").unwrap_or_else(|e| panic!("{e}")));
    let sql = format!("CREATE EXTERNAL TABLE rel STORED AS BINARYFILE LOCATION '{}/'", relative.display());
    ctx.sql(&sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    let batches = ctx.sql("SELECT path FROM rel ORDER BY path").await.unwrap_or_else(|e| panic!("{e}"));
    let batches = batches.collect().await.unwrap_or_else(|e| panic!("{e}"));
    let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches).map(|t| t.to_string()).unwrap_or_default();
    assert!(text.contains(&format!("file:{}/0_100.jpg", fixtures.path("fruits/Banana").display())), "{text}");
}

#[tokio::test]
async fn local_files_read_in_groups_keep_each_row_its_own_content() {
    // More files than one blocking read task takes (32), of sizes that make the groups
    // uneven, so rows cross several tasks per partition.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut expected = Vec::new();
    for index in 0..75usize {
        let label = dir.path().join(format!("label{}", index % 3));
        std::fs::create_dir_all(&label).unwrap_or_else(|e| panic!("{e}"));
        let content: Vec<u8> = (0..(index * 37 % 101 + 1)).map(|i| (i * 7 + index) as u8).collect();
        let file = label.join(format!("photo {index:03}.jpg"));
        std::fs::write(&file, &content).unwrap_or_else(|e| panic!("{e}"));
        expected.push((format!("file:{}", file.display()), content));
    }
    expected.sort();
    let ctx = verger::session_context().unwrap_or_else(|e| panic!("{e}"));
    let sql = format!(
        "CREATE EXTERNAL TABLE photos STORED AS BINARYFILE LOCATION '{}' OPTIONS ('recursiveFileLookup' 'true')",
        dir.path().display()
    );
    ctx.sql(&sql).await.unwrap_or_else(|e| panic!("{e}"));
    let frame = ctx.sql("SELECT path, content FROM photos ORDER BY path").await.unwrap_or_else(|e| panic!("{e}"));
    let batches = frame.collect().await.unwrap_or_else(|e| panic!("{e}"));
    let mut rows = Vec::new();
    for batch in &batches {
        let paths = datafusion::arrow::array::AsArray::as_string::<i32>(batch.column(0));
        let contents = datafusion::arrow::array::AsArray::as_binary::<i32>(batch.column(1));
        for row in 0..batch.num_rows() {
            rows.push((paths.value(row).replace("%20", " "), contents.value(row).to_vec()));
        }
    }
    assert_eq!(rows.len(), expected.len());
    for ((path, content), (want_path, want_content)) in rows.iter().zip(&expected) {
        assert_eq!(path, want_path);
        assert_eq!(content, want_content, "{path}");
    }
}
