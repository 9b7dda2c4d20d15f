//! S3 settings given with `SET` / `--set` alone — no `AWS_*` variable in any process, no
//! store registered by hand — reach every reader and writer: Parquet, CSV and binaryFile
//! tables, `read_parquet`, `COPY` through DataFusion's writer and verger's committed one,
//! embedded, on a two-executor cluster, and in `verger report`.

use crate::cluster::rows;
use crate::s3::bucket_with_images;
use crate::support::cluster::{Cluster, VERGER};
use crate::support::moto::Moto;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use object_store::ObjectStoreExt;
use object_store::path::Path;
use std::process::{Command, Stdio};

const BUCKET: &str = "fruits-eu";

/// The variables that would give object_store an endpoint or credentials of their own.
const AWS_SOURCES: [&str; 5] = ["AWS_ENDPOINT", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"];

/// The settings must be the only source: child processes drop every `AWS_*` variable (see
/// tests/support/cluster.rs and [`report_command`]); this process must not have any either.
fn assert_settings_are_the_only_source() {
    for name in AWS_SOURCES {
        assert!(
            std::env::var_os(name).is_none(),
            "{name} is set in the test's environment: unset it, these tests give S3 settings with SET only"
        );
    }
}

async fn set(ctx: &SessionContext, settings: &[(String, String)]) {
    for (key, value) in settings {
        ctx.sql(&format!("SET {key} = '{value}'")).await.unwrap_or_else(|e| panic!("{e}"));
    }
}

async fn run(ctx: &SessionContext, sql: &str) {
    ctx.sql(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}")).collect().await.unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Uploads a Parquet file and a CSV file of three rows under `tables/` (written locally by
/// DataFusion alone, so that nothing of verger's is needed to make them).
async fn upload_tables(moto: &Moto, prefix: &str, rows: &[(i64, &str)]) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let values: Vec<String> = rows.iter().map(|(n, label)| format!("({n}, '{label}')")).collect();
    let plain = SessionContext::new();
    let parquet = dir.path().join("parquet/part-0.parquet");
    let copy = format!(
        "COPY (SELECT column1 AS n, column2 AS label FROM (VALUES {})) TO '{}' STORED AS PARQUET",
        values.join(", "),
        parquet.display()
    );
    run(&plain, &copy).await;
    let csv: String = rows.iter().map(|(n, label)| format!("{n},{label}\n")).collect();
    std::fs::create_dir_all(dir.path().join("csv")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("csv/part-0.csv"), format!("n,label\n{csv}")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(moto.upload_tree(dir.path(), BUCKET, prefix).await, 2);
}

const ROWS: [(i64, &str); 3] = [(1, "Apple Braeburn"), (2, "Apricot"), (4, "Apricot")];
const BY_LABEL: &str = "\
+----------------+-------+---+
| label          | count | n |
+----------------+-------+---+
| Apple Braeburn | 1     | 1 |
| Apricot        | 2     | 6 |
+----------------+-------+---+";

fn by_label(table: &str) -> String {
    format!("SELECT label, count(*) AS count, sum(n) AS n FROM {table} GROUP BY label ORDER BY label")
}

/// Every reader and writer, through `ctx`, whose only S3 settings are its session's.
/// `out` names this run's output prefix.
async fn read_and_write_everything(ctx: &SessionContext, moto: &Moto, out: &str) {
    // Tables: Parquet (schema inferred when created), CSV, binaryFile. The Parquet table is
    // one file: verger's factory cannot yet list an S3 directory (it appends a `*.parquet`
    // glob, which DataFusion reads literally in a URL); directories are read below with
    // `register_parquet`.
    run(ctx, &format!("CREATE EXTERNAL TABLE p STORED AS PARQUET LOCATION 's3://{BUCKET}/tables/parquet/part-0.parquet'")).await;
    assert_eq!(rows(ctx, &by_label("p")).await, BY_LABEL);
    run(ctx, &format!("CREATE EXTERNAL TABLE c STORED AS CSV LOCATION 's3://{BUCKET}/tables/csv/' OPTIONS ('format.has_header' 'true')"))
        .await;
    assert_eq!(rows(ctx, &by_label("c")).await, BY_LABEL);
    run(ctx, &format!("CREATE EXTERNAL TABLE images STORED AS BINARYFILE LOCATION 's3://{BUCKET}/fruits/' OPTIONS ('pathGlobFilter' '*.jpg', 'recursiveFileLookup' 'true')")).await;
    assert!(rows(ctx, "SELECT count(*) AS n FROM images").await.contains("| 13 |"));

    // read_parquet.
    let read = ctx
        .read_parquet(format!("s3://{BUCKET}/tables/parquet/part-0.parquet"), ParquetReadOptions::default())
        .await
        .unwrap_or_else(|e| panic!("read_parquet: {e}"));
    let count: usize = read.collect().await.unwrap_or_else(|e| panic!("read_parquet: {e}")).iter().map(|b| b.num_rows()).sum();
    assert_eq!(count, 3);

    // COPY through DataFusion's CSV writer, and through verger's committed Parquet output;
    // both read back.
    run(ctx, &format!("COPY (SELECT * FROM p) TO 's3://{BUCKET}/{out}/copy.csv' STORED AS CSV OPTIONS ('format.has_header' 'true')")).await;
    run(
        ctx,
        &format!(
            "CREATE EXTERNAL TABLE copied_csv STORED AS CSV LOCATION 's3://{BUCKET}/{out}/copy.csv' OPTIONS ('format.has_header' 'true')"
        ),
    )
    .await;
    assert_eq!(rows(ctx, &by_label("copied_csv")).await, BY_LABEL);
    run(ctx, &format!("COPY (SELECT * FROM c) TO 's3://{BUCKET}/{out}/committed/' STORED AS PARQUET")).await;
    ctx.register_parquet("copied", format!("s3://{BUCKET}/{out}/committed/"), ParquetReadOptions::default())
        .await
        .unwrap_or_else(|e| panic!("register_parquet: {e}"));
    assert_eq!(rows(ctx, &by_label("copied")).await, BY_LABEL);

    // The writes are in the bucket, as the test's own client sees it.
    let store = moto.store(BUCKET);
    for key in ["copy.csv", "committed/_SUCCESS"] {
        let path = Path::from(format!("{out}/{key}"));
        assert!(store.head(&path).await.is_ok(), "{path} was not written to the bucket");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn settings_alone_reach_every_reader_and_writer_embedded() {
    assert_settings_are_the_only_source();
    let (moto, _images) = bucket_with_images().await;
    upload_tables(&moto, "tables", &ROWS).await;
    let ctx = verger::session_context().unwrap_or_else(|e| panic!("{e}"));
    set(&ctx, &moto.session_settings()).await;
    read_and_write_everything(&ctx, &moto, "embedded").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn settings_alone_reach_every_reader_and_writer_on_the_cluster() {
    assert_settings_are_the_only_source();
    let (moto, _images) = bucket_with_images().await;
    upload_tables(&moto, "tables", &ROWS).await;
    // No AWS_* in the scheduler's or executors' environment: the settings travel from the client.
    let cluster = Cluster::start(2, &[]);
    let remote = verger_cluster::remote_context(&cluster.url()).await.unwrap_or_else(|e| panic!("{e}"));
    set(&remote, &moto.session_settings()).await;
    read_and_write_everything(&remote, &moto, "cluster").await;

    // The same session moves to another server: the client, the scheduler and the
    // executors all follow it (none keeps the first query's settings).
    let other = Moto::start();
    other.create_bucket(BUCKET);
    upload_tables(&other, "tables-b", &[(10, "Kiwi"), (20, "Kiwi")]).await;
    let endpoint = other.endpoint();
    set(&remote, &[("s3.endpoint".to_owned(), endpoint)]).await;
    // Both kinds of read: DataFusion's Parquet scan takes its store when a task is decoded,
    // its CSV scan and its writers when the task runs.
    run(&remote, &format!("CREATE EXTERNAL TABLE pb STORED AS PARQUET LOCATION 's3://{BUCKET}/tables-b/parquet/part-0.parquet'")).await;
    run(
        &remote,
        &format!("CREATE EXTERNAL TABLE cb STORED AS CSV LOCATION 's3://{BUCKET}/tables-b/csv/' OPTIONS ('format.has_header' 'true')"),
    )
    .await;
    run(&remote, &format!("COPY (SELECT * FROM cb) TO 's3://{BUCKET}/moved/copy.csv' STORED AS CSV")).await;
    for table in ["pb", "cb"] {
        let moved = rows(&remote, &by_label(table)).await;
        assert!(moved.contains("| Kiwi  | 2     | 30 |"), "{table}: {moved}\n{}", cluster.all_logs());
    }
    assert!(other.store(BUCKET).head(&Path::from("moved/copy.csv")).await.is_ok(), "the COPY did not write to the new endpoint");
}

/// `verger report` with its S3 settings on the command line, and no `AWS_*` inherited.
fn report_command(args: &[&str]) -> Command {
    let mut command = Command::new(VERGER);
    command.arg("report").args(args).stdin(Stdio::null());
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("AWS_") {
            command.env_remove(name);
        }
    }
    command
}

#[tokio::test(flavor = "multi_thread")]
async fn verger_report_reads_and_plots_on_s3_with_set() {
    assert_settings_are_the_only_source();
    let moto = Moto::start();
    moto.create_bucket(BUCKET);
    let ctx = verger::session_context().unwrap_or_else(|e| panic!("{e}"));
    set(&ctx, &moto.session_settings()).await;
    let output = format!("s3://{BUCKET}/fruits_pca/");
    run(
        &ctx,
        &format!(
            "COPY (SELECT column1 AS label, column2 AS pca_features FROM (VALUES ('Apricot', [0.5, -1.0, 2.0]), ('Kiwi', [1.5, 2.0, 0.0]), ('Kiwi', [1.0, 2.5, 0.5]))) \
             TO '{output}' STORED AS PARQUET"
        ),
    )
    .await;

    let settings: Vec<String> = moto.session_settings().into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut args = vec![output.as_str()];
    for setting in &settings {
        args.extend(["--set", setting.as_str()]);
    }
    let out = report_command(&args).output().unwrap_or_else(|e| panic!("{VERGER}: {e}"));
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("rows        3"), "{stdout}");
    assert!(stdout.contains("labels      2: Apricot 1, Kiwi 2"), "{stdout}");
    assert!(stdout.contains(&format!("plot        s3://{BUCKET}/fruits_pca_pca.png")), "{stdout}");
    let plot =
        moto.store(BUCKET).get(&Path::from("fruits_pca_pca.png")).await.unwrap_or_else(|e| panic!("the plot is not in the bucket: {e}"));
    let png = plot.bytes().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(png.starts_with(b"\x89PNG"), "the plot is not a PNG");
}
