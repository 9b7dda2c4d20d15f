//! Scaling and PCA: fits that do not depend on partitioning, and the one-liner
//! `pca(image_features(content), k)` — features computed once, the same rows embedded and on a
//! two-executor cluster.

use crate::support::cluster::Cluster;
use datafusion::arrow::array::{ArrayRef, AsArray, FixedSizeListArray, Float32Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Schema};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use std::collections::BTreeMap;
use std::sync::Arc;

async fn collect(ctx: &SessionContext, sql: &str) -> Vec<RecordBatch> {
    let frame = ctx.sql(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    frame.collect().await.unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// `key → vector of doubles` of a `SELECT key, <list of doubles> FROM ...` query.
async fn double_vectors(ctx: &SessionContext, sql: &str) -> BTreeMap<String, Vec<f64>> {
    let mut found = BTreeMap::new();
    for batch in collect(ctx, sql).await {
        let keys = datafusion::arrow::compute::cast(batch.column(0), &DataType::Utf8).unwrap_or_else(|e| panic!("{e}"));
        let keys = keys.as_string::<i32>();
        let item = Arc::new(Field::new_list_field(DataType::Float64, true));
        let lists = datafusion::arrow::compute::cast(batch.column(1), &DataType::List(item)).unwrap_or_else(|e| panic!("{e}"));
        let lists = lists.as_list::<i32>();
        for row in 0..batch.num_rows() {
            let values = lists.value(row);
            found.insert(keys.value(row).to_owned(), values.as_primitive::<Float64Type>().values().to_vec());
        }
    }
    found
}

fn worst_relative(a: &BTreeMap<String, Vec<f64>>, b: &BTreeMap<String, Vec<f64>>) -> f64 {
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    let scale = a.values().flatten().fold(0f64, |m, x| m.max(x.abs())).max(f64::MIN_POSITIVE);
    a.iter().flat_map(|(k, v)| v.iter().zip(&b[k]).map(|(x, y)| (x - y).abs() / scale)).fold(0.0, f64::max)
}

/// 3,000 rows of 24 correlated float32 features around 1000: a hard case for sums of squares.
fn offset_vectors() -> RecordBatch {
    let (rows, d) = (3000usize, 24usize);
    let mut values = Vec::with_capacity(rows * d);
    let mut state = 12345u64;
    let mut next = || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((state >> 33) as f64 / (1u64 << 31) as f64) - 0.5
    };
    for _ in 0..rows {
        let (a, b) = (next(), next());
        for j in 0..d {
            values.push((1000.0 + a * (j as f64 + 1.0) + b * ((j % 5) as f64) + 0.01 * next()) as f32);
        }
    }
    let item = Arc::new(Field::new_list_field(DataType::Float32, true));
    let features: ArrayRef = Arc::new(FixedSizeListArray::new(item, d as i32, Arc::new(Float32Array::from(values)), None));
    let ids: ArrayRef = Arc::new(StringArray::from((0..rows).map(|i| format!("{i:05}")).collect::<Vec<_>>()));
    let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Utf8, false), Field::new("f", features.data_type().clone(), true)]));
    RecordBatch::try_new(schema, vec![ids, features]).unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn fits_give_the_same_model_whatever_the_partitioning() {
    let batch = offset_vectors();
    let mut results = Vec::new();
    for (partitions, batch_size) in [(1, 8192), (3, 7), (8, 100)] {
        let ctx = verger::session_context().unwrap_or_else(|e| panic!("{e}"));
        ctx.sql(&format!("SET datafusion.execution.target_partitions = {partitions}")).await.unwrap_or_else(|e| panic!("{e}"));
        ctx.sql(&format!("SET datafusion.execution.batch_size = {batch_size}")).await.unwrap_or_else(|e| panic!("{e}"));
        // The rows spread over as many partitions as the session runs.
        let chunks: Vec<Vec<RecordBatch>> = (0..partitions)
            .map(|p| {
                let per = batch.num_rows().div_ceil(partitions);
                let start = (p * per).min(batch.num_rows());
                vec![batch.slice(start, per.min(batch.num_rows() - start))]
            })
            .collect();
        let table = MemTable::try_new(batch.schema(), chunks).unwrap_or_else(|e| panic!("{e}"));
        ctx.register_table("v", Arc::new(table)).unwrap_or_else(|e| panic!("{e}"));
        // Two well-separated components (the rest is isotropic noise, whose eigenvectors
        // any rounding may rotate) and the variances of the first five.
        let mut projected = double_vectors(&ctx, "SELECT id, pca(f, 2) FROM v").await;
        projected.extend(double_vectors(&ctx, "SELECT 'variances', pca_fit(f, 5)['explained_variance'] FROM v").await);
        let scaled = double_vectors(&ctx, "SELECT id, standard_scale(f, (SELECT standard_scaler_fit(f, true, true) FROM v)) FROM v").await;
        results.push((partitions, projected, scaled));
    }
    let (_, first_pca, first_scaled) = &results[0];
    assert_eq!(first_pca.len(), 3001);
    for (partitions, pca, scaled) in &results[1..] {
        let (a, b) = (worst_relative(first_pca, pca), worst_relative(first_scaled, scaled));
        assert!(a < 1e-9, "{partitions} partitions: PCA output differs by {a:e} relative");
        assert!(b < 1e-9, "{partitions} partitions: scaled output differs by {b:e} relative");
    }
}

fn create(dir: &std::path::Path) -> String {
    format!("CREATE EXTERNAL TABLE images STORED AS BINARYFILE LOCATION '{}' OPTIONS ('recursiveFileLookup' 'true')", dir.display())
}

const ONE_LINER: &str = "SELECT path, pca(image_features(content), 4) AS p FROM images";

#[tokio::test(flavor = "multi_thread")]
async fn the_one_liner_computes_features_once_and_matches_on_the_cluster() {
    let images = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    verger_imagegen::generate(images.path(), 3, 6, 5).unwrap_or_else(|e| panic!("{e}"));
    let scratch = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let set_dir = format!("SET verger.materialize.dir = '{}'", scratch.path().display());

    let embedded = verger::session_context().unwrap_or_else(|e| panic!("{e}"));
    embedded.sql(&set_dir).await.unwrap_or_else(|e| panic!("{e}"));
    embedded.sql(&create(images.path())).await.unwrap_or_else(|e| panic!("{e}"));

    // EXPLAIN: the features are computed in one place, under the materialisation; the fit
    // runs in two phases and its model reaches the rows through a broadcast join.
    let explain = collect(&embedded, &format!("EXPLAIN {ONE_LINER}")).await;
    let physical: String = explain
        .iter()
        .flat_map(|b| {
            let (kinds, plans) = (b.column(0).as_string::<i32>(), b.column(1).as_string::<i32>());
            (0..b.num_rows()).filter(|&r| kinds.value(r) == "physical_plan").map(|r| plans.value(r).to_owned()).collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(physical.matches("image_features(").count(), 1, "{physical}");
    for step in ["MaterializeReleaseExec", "MaterializeWriteExec", "MaterializeReadExec", "mode=Partial", "mode=Final", "pca_transform("] {
        assert!(physical.contains(step), "no {step} in\n{physical}");
    }
    // The reader's input is the fit, behind an exchange: no join, and no way to read first.
    let lines: Vec<&str> = physical.lines().collect();
    let reader = lines.iter().position(|l| l.contains("MaterializeReadExec")).unwrap_or_else(|| panic!("{physical}"));
    assert!(lines.get(reader + 1).is_some_and(|l| l.contains("CoalescePartitionsExec")), "{physical}");
    assert!(lines[reader..].iter().any(|l| l.contains("MaterializeWriteExec")), "the writer is under the reader:\n{physical}");
    assert!(!physical.contains("HashJoinExec"), "{physical}");
    assert!(!physical.contains("WindowAggExec") && !physical.contains("BoundedWindowAggExec"), "{physical}");

    // The same fit by hand: features, then pca_fit, then pca_transform.
    let expected = double_vectors(&embedded, ONE_LINER).await;
    assert_eq!(expected.len(), 18);
    assert!(expected.values().all(|v| v.len() == 4));
    let by_hand = double_vectors(
        &embedded,
        "WITH f AS (SELECT path, image_features(content) AS x FROM images) \
         SELECT path, pca_transform(x, (SELECT pca_fit(x, 4) FROM f)) FROM f",
    )
    .await;
    let difference = worst_relative(&expected, &by_hand);
    assert!(difference < 1e-9, "one-liner vs by hand: {difference:e}");
    let leftovers: Vec<_> = std::fs::read_dir(scratch.path()).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    assert!(leftovers.is_empty(), "materialised parts left behind: {leftovers:?}");

    let cluster = Cluster::start(2, &[]);
    let remote = verger_cluster::remote_context(&cluster.url()).await.unwrap_or_else(|e| panic!("{e}"));
    remote.sql("SET datafusion.execution.target_partitions = 4").await.unwrap_or_else(|e| panic!("{e}"));
    remote.sql(&set_dir).await.unwrap_or_else(|e| panic!("{e}"));
    remote.sql(&create(images.path())).await.unwrap_or_else(|e| panic!("{e}"));
    let on_cluster = double_vectors(&remote, ONE_LINER).await;
    // Every image once: no part read twice, none skipped.
    let counted = collect(&remote, &format!("SELECT count(*) AS n FROM ({ONE_LINER})")).await;
    let count = counted.first().map(|b| b.column(0).as_primitive::<datafusion::arrow::datatypes::Int64Type>().value(0));
    assert_eq!(count, Some(18), "{}", cluster.all_logs());
    let difference = worst_relative(&expected, &on_cluster);
    // Same features up to ORT rounding across mini-batches, same fit.
    assert!(difference < 1e-4, "cluster vs embedded: {difference:e}\n{}", cluster.all_logs());
    let fits = double_vectors(&remote, "SELECT 'model', pca_fit(image_features(content), 4)['explained_variance'] FROM images").await;
    let local = double_vectors(&embedded, "SELECT 'model', pca_fit(image_features(content), 4)['explained_variance'] FROM images").await;
    assert!(worst_relative(&local, &fits) < 1e-4);
    // Both executors worked, and the partial fits ran on them.
    for executor in ["executor-0", "executor-1"] {
        assert!(cluster.log(executor).contains("Execute task"), "{executor} ran no task:\n{}", cluster.all_logs());
    }
    drop(scratch);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_one_liner_materialises_to_s3_and_cleans_up() {
    use futures::TryStreamExt;
    use object_store::ObjectStore;
    let moto = crate::support::moto::Moto::start();
    moto.create_bucket("scratch");
    let view = "CREATE VIEW t AS SELECT * FROM (VALUES ('a', [1.0, 2.0, 3.0]), ('b', [2.0, 1.0, 0.0]), \
                ('c', [4.0, 4.0, 5.0]), ('d', [0.0, 1.0, 1.0])) AS v(name, f)";
    // A computed input (array_append), so the one-liner materialises it.
    let query = "SELECT name, pca(array_append(f, 0.0), 2) FROM t";

    let local = verger::session_context().unwrap_or_else(|e| panic!("{e}"));
    local.sql(view).await.unwrap_or_else(|e| panic!("{e}"));
    let expected = double_vectors(&local, query).await;

    let ctx = verger::session_context().unwrap_or_else(|e| panic!("{e}"));
    for (key, value) in moto.session_settings() {
        ctx.sql(&format!("SET {key} = '{value}'")).await.unwrap_or_else(|e| panic!("{e}"));
    }
    ctx.sql("SET verger.materialize.dir = 's3://scratch/verger-tmp'").await.unwrap_or_else(|e| panic!("{e}"));
    ctx.sql(view).await.unwrap_or_else(|e| panic!("{e}"));
    let through_s3 = double_vectors(&ctx, query).await;
    assert_eq!(through_s3, expected);

    let store = moto.store("scratch");
    let left: Vec<_> = store.list(None).try_collect().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(left.is_empty(), "left in the bucket: {:?}", left.iter().map(|m| m.location.to_string()).collect::<Vec<_>>());

    // Storage the readers cannot reach fails with an error, not with fewer rows.
    ctx.sql("SET verger.materialize.dir = 's3://no-such-bucket/tmp'").await.unwrap_or_else(|e| panic!("{e}"));
    let error = match ctx.sql(query).await {
        Ok(frame) => frame.collect().await.err().map(|e| e.to_string()).unwrap_or_default(),
        Err(e) => e.to_string(),
    };
    assert!(error.contains("no-such-bucket") || error.contains("materialis"), "{error}");
}

/// Enough rows of a computed input (so it is materialised) for many batches.
const MANY_ROWS: &str = "SELECT value, pca(array_append([CAST(value AS DOUBLE), CAST(value % 7 AS DOUBLE), \
                         CAST(value % 13 AS DOUBLE)], 1.0), 2) AS p FROM generate_series(1, 50000)";

fn entries(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default()
}

/// Waits (the release of a dropped stream runs in the background) until `dir` is empty.
async fn emptied(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    for _ in 0..100 {
        if entries(dir).is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    entries(dir)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancelled_or_failed_one_liner_leaves_nothing_materialised() {
    use futures::StreamExt;
    let scratch = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let ctx = verger::session_context().unwrap_or_else(|e| panic!("{e}"));
    ctx.sql(&format!("SET verger.materialize.dir = '{}'", scratch.path().display())).await.unwrap_or_else(|e| panic!("{e}"));

    // Cancelled: the stream dropped after its first batch, while the parts are being read.
    let frame = ctx.sql(MANY_ROWS).await.unwrap_or_else(|e| panic!("{e}"));
    let mut stream = frame.execute_stream().await.unwrap_or_else(|e| panic!("{e}"));
    let first = stream.next().await.unwrap_or_else(|| panic!("no batch")).unwrap_or_else(|e| panic!("{e}"));
    assert!(first.num_rows() > 0 && first.num_rows() < 50000, "{} rows", first.num_rows());
    let parts: Vec<_> = entries(scratch.path()).iter().flat_map(|folder| entries(folder)).collect();
    assert!(parts.iter().any(|p| p.extension().is_some_and(|e| e == "arrow")), "the parts exist while the query runs: {parts:?}");
    drop(stream);
    let left = emptied(scratch.path()).await;
    assert!(left.is_empty(), "a dropped query left {left:?}");

    // Failed: the fit errs (k above the number of features) after every part was written.
    let failing = MANY_ROWS.replace(", 2) AS p", ", 9) AS p");
    let error = match ctx.sql(&failing).await {
        Ok(frame) => frame.collect().await.err().map(|e| e.to_string()).unwrap_or_default(),
        Err(e) => e.to_string(),
    };
    assert!(error.contains("k = 9 is more than the 4 features"), "{error}");
    let left = emptied(scratch.path()).await;
    assert!(left.is_empty(), "a failed query left {left:?}");

    // Finished: nothing left either, and every row once.
    let counted = collect(&ctx, &format!("SELECT count(*) FROM ({MANY_ROWS})")).await;
    let count = counted.first().map(|b| b.column(0).as_primitive::<datafusion::arrow::datatypes::Int64Type>().value(0));
    assert_eq!(count, Some(50000));
    assert!(entries(scratch.path()).is_empty(), "a finished query left {:?}", entries(scratch.path()));
}

/// `verger sql` killed mid-query cannot clean up; the next one-liner on the same
/// directory removes what it left (its lease names a process that is gone).
#[test]
fn a_killed_cli_run_is_swept_by_the_next_one() {
    use crate::support::cluster::VERGER;
    use std::process::{Command, Stdio};
    let scratch = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let set = format!("verger.materialize.dir={}", scratch.path().display());
    let big = MANY_ROWS.replace("50000", "3000000");
    let mut cli = Command::new(VERGER)
        .args(["sql", "-q", "--set", &set, "-c", &format!("SELECT count(*) FROM ({big})")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !entries(scratch.path()).iter().any(|folder| folder.join("_lease").exists()) {
        assert!(cli.try_wait().unwrap_or_else(|e| panic!("{e}")).is_none(), "the query ended before it was killed");
        assert!(std::time::Instant::now() < deadline, "no lease within a minute");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = Command::new("kill").args(["-TERM", &cli.id().to_string()]).status();
    let _ = cli.wait();
    let left = entries(scratch.path());
    assert_eq!(left.len(), 1, "the killed run left its folder: {left:?}");

    let next = Command::new(VERGER)
        .args([
            "sql",
            "-q",
            "--set",
            &set,
            "-c",
            "SELECT count(*) FROM (SELECT pca(array_append([CAST(column1 AS DOUBLE), 2.0], 0.0), 1) FROM (VALUES (1), (2), (3)))",
        ])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(next.status.success(), "{}", String::from_utf8_lossy(&next.stderr));
    assert!(entries(scratch.path()).is_empty(), "left after the next run: {:?}", entries(scratch.path()));
}
