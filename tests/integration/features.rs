//! CNN features through ONNX Runtime: the same vectors embedded and on a two-executor
//! cluster, a model loaded from S3 by the executors once each, and bad images handled by
//! `verger.images.on_error` with the file named.

use crate::support::cluster::{Cluster, VERGER};
use crate::support::moto::Moto;
use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::Float32Type;
use datafusion::prelude::SessionContext;
use std::collections::BTreeMap;
use std::path::Path;

fn create(dir: &Path) -> String {
    format!("CREATE EXTERNAL TABLE images STORED AS BINARYFILE LOCATION '{}' OPTIONS ('recursiveFileLookup' 'true')", dir.display())
}

async fn collect(ctx: &SessionContext, sql: &str) -> Vec<RecordBatch> {
    let frame = ctx.sql(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    frame.collect().await.unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// `path → feature vector` of a `SELECT path, <vector> FROM ...` query.
async fn vectors(ctx: &SessionContext, sql: &str) -> BTreeMap<String, Vec<f32>> {
    let mut found = BTreeMap::new();
    for batch in collect(ctx, sql).await {
        let paths = batch.column(0).as_string::<i32>();
        let lists = batch.column(1).as_fixed_size_list();
        for row in 0..batch.num_rows() {
            let values = lists.value(row);
            found.insert(paths.value(row).to_owned(), values.as_primitive::<Float32Type>().values().to_vec());
        }
    }
    found
}

fn assert_close(actual: &BTreeMap<String, Vec<f32>>, expected: &BTreeMap<String, Vec<f32>>, what: &str) {
    assert_eq!(actual.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>(), "{what}: other files");
    for (path, vector) in expected {
        let other = &actual[path];
        assert_eq!(other.len(), vector.len(), "{what}: {path}");
        let worst = vector.iter().zip(other).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        // Same model, same tensors; mini-batches of other sizes may round differently.
        assert!(worst < 1e-4, "{what}: {path} differs by {worst}");
    }
}

fn model_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.verger/models/efficientnet_lite0")
}

#[tokio::test(flavor = "multi_thread")]
async fn features_are_the_same_embedded_and_on_the_cluster_with_a_model_from_s3() {
    let images = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    verger_imagegen::generate(images.path(), 4, 5, 21).unwrap_or_else(|e| panic!("{e}"));
    let moto = Moto::start();
    moto.create_bucket("models");
    let uploaded = moto.upload_tree(&model_dir(), "models", "efficientnet_lite0").await;
    assert_eq!(uploaded, 3, "model.onnx, model.json and classes.txt");

    let embedded = verger::session_context().unwrap_or_else(|e| panic!("{e}"));
    embedded.sql(&create(images.path())).await.unwrap_or_else(|e| panic!("{e}"));
    let query = "SELECT path, image_features(content) FROM images";
    let expected = vectors(&embedded, query).await;
    assert_eq!(expected.len(), 20);
    assert!(expected.values().all(|v| v.len() == 1280 && v.iter().all(|x| *x >= 0.0)), "ReLU6 features are in [0, 6]");

    let environment = moto.environment();
    let environment: Vec<(&str, &str)> = environment.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let cluster = Cluster::start(2, &environment);
    let remote = verger_cluster::remote_context(&cluster.url()).await.unwrap_or_else(|e| panic!("{e}"));
    remote.sql("SET datafusion.execution.target_partitions = 4").await.unwrap_or_else(|e| panic!("{e}"));
    for (key, value) in moto.session_settings() {
        remote.sql(&format!("SET {key} = '{value}'")).await.unwrap_or_else(|e| panic!("{e}"));
    }
    remote.sql(&create(images.path())).await.unwrap_or_else(|e| panic!("{e}"));
    assert_close(&vectors(&remote, query).await, &expected, "cluster, default model");

    remote.sql("SET verger.model.from_s3.uri = 's3://models/efficientnet_lite0/'").await.unwrap_or_else(|e| panic!("{e}"));
    let from_s3 = "SELECT path, image_features(content, 'from_s3') FROM images";
    assert_close(&vectors(&remote, from_s3).await, &expected, "cluster, model from S3");
    assert_close(&vectors(&remote, from_s3).await, &expected, "cluster, model from S3, again");

    // Each executor loaded each model once, whatever the number of tasks and queries.
    for executor in ["executor-0", "executor-1"] {
        let log = cluster.log(executor);
        assert!(log.contains("Execute task"), "{executor} ran no task:\n{}", cluster.all_logs());
        let loads = log.matches("model 'from_s3' loaded from s3://models/efficientnet_lite0/model.onnx").count();
        assert!(loads <= 1, "{executor} loaded the S3 model {loads} times:\n{log}");
    }
    let total: usize = ["executor-0", "executor-1"].iter().map(|e| cluster.log(e).matches("model 'from_s3' loaded").count()).sum();
    assert!(total >= 1, "{}", cluster.all_logs());
}

/// An embedded session starts loading a query's model while it plans the query, so that the
/// model is ready when the first images arrive.
#[tokio::test(flavor = "multi_thread")]
async fn planning_a_query_loads_its_model_before_the_query_runs() {
    let images = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    verger_imagegen::generate(images.path(), 2, 2, 5).unwrap_or_else(|e| panic!("{e}"));
    let ctx = verger::session_context().unwrap_or_else(|e| panic!("{e}"));
    // A name of its own, so that no other test of this process has loaded it.
    let model = model_dir().canonicalize().unwrap_or_else(|e| panic!("{e}"));
    ctx.sql(&format!("SET verger.model.preload_probe.uri = '{}/'", model.display())).await.unwrap_or_else(|e| panic!("{e}"));
    ctx.sql(&create(images.path())).await.unwrap_or_else(|e| panic!("{e}"));
    let options = ctx.state().config_options().clone();
    let spec =
        verger::resolve_model("preload_probe", &verger::VergerConfig::from_options(&options), &options).unwrap_or_else(|e| panic!("{e}"));
    assert!(!verger_features::is_model_loaded(&spec), "loaded before any query named it");

    let query = "SELECT path, image_features(content, 'preload_probe') FROM images";
    let planned = ctx.sql(query).await.unwrap_or_else(|e| panic!("{query}: {e}"));
    verger::wait_for_preloads();
    assert!(verger_features::is_model_loaded(&spec), "planning the query did not load its model");

    let rows: usize = planned.collect().await.unwrap_or_else(|e| panic!("{query}: {e}")).iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows, 4);
}

/// A small JPEG whose frame header claims `width` × `height`.
fn jpeg_claiming(width: u16, height: u16) -> Vec<u8> {
    let mut jpeg = verger_imagegen::render_jpeg(0, 0, 1).unwrap_or_else(|e| panic!("{e}"));
    let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap_or_else(|| panic!("no SOF0"));
    jpeg[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
    jpeg[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
    jpeg
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_images_fail_naming_the_file_or_become_null() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let good = verger_imagegen::render_jpeg(1, 2, 3).unwrap_or_else(|e| panic!("{e}"));
    let write = |name: &str, bytes: &[u8]| std::fs::write(dir.path().join(name), bytes).unwrap_or_else(|e| panic!("{e}"));
    write("good.jpg", &good);
    write("truncated.jpg", &good[..good.len() / 2]);
    write("text.jpg", b"this is a text file, not a photo\n");
    write("zero pixels.jpg", &jpeg_claiming(100, 0));
    write("bomb.jpg", &jpeg_claiming(50000, 50000));
    let ctx = verger::session_context().unwrap_or_else(|e| panic!("{e}"));
    ctx.sql(&create(dir.path())).await.unwrap_or_else(|e| panic!("{e}"));

    // Headers alone: the bomb reports its claimed size without being decoded.
    let infos = collect(
        &ctx,
        "SELECT element_at(split(path, '/'), -1) AS name, image_info(content)['width'] AS width FROM images WHERE path LIKE '%bomb%'",
    )
    .await;
    assert_eq!(infos[0].column(1).as_primitive::<datafusion::arrow::datatypes::Int32Type>().value(0), 50000);

    let query = "SELECT path, image_features(content) AS f FROM images";
    for (name, reason) in [
        ("truncated.jpg", "corrupt or truncated JPEG"),
        ("text.jpg", "not a JPEG or PNG image"),
        ("zero pixels.jpg", ""),
        ("bomb.jpg", "50000x50000 = 2500000000 pixels, over the limit of 100000000"),
    ] {
        let single = verger::session_context().unwrap_or_else(|e| panic!("{e}"));
        let table = format!(
            "CREATE EXTERNAL TABLE images STORED AS BINARYFILE LOCATION '{}' OPTIONS ('pathGlobFilter' '{{good.jpg,{name}}}')",
            dir.path().display()
        );
        single.sql(&table).await.unwrap_or_else(|e| panic!("{e}"));
        let error = match single.sql(query).await {
            Ok(frame) => frame.collect().await.err().map(|e| e.to_string()).unwrap_or_default(),
            Err(e) => e.to_string(),
        };
        assert!(error.contains(&format!("image_features: cannot read the image file:{}/{name}", dir.path().display())), "{name}: {error}");
        assert!(error.contains(reason), "{name}: {error}");
        assert!(error.contains("verger.images.on_error"), "{error}");
    }

    ctx.sql("SET verger.images.on_error = 'null'").await.unwrap_or_else(|e| panic!("{e}"));
    let batches = collect(
        &ctx,
        "SELECT element_at(split(path, '/'), -1) AS name, image_features(content) IS NULL AS missing FROM images ORDER BY name",
    )
    .await;
    let mut outcome = Vec::new();
    for batch in &batches {
        for row in 0..batch.num_rows() {
            outcome.push((batch.column(0).as_string::<i32>().value(row).to_owned(), batch.column(1).as_boolean().value(row)));
        }
    }
    let expected: Vec<(String, bool)> =
        [("bomb.jpg", true), ("good.jpg", false), ("text.jpg", true), ("truncated.jpg", true), ("zero pixels.jpg", true)]
            .iter()
            .map(|(n, m)| (n.to_string(), *m))
            .collect();
    assert_eq!(outcome, expected);
}

#[test]
fn a_missing_onnx_runtime_is_explained_not_a_panic() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("a.jpg"), verger_imagegen::render_jpeg(0, 0, 1).unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("{e}"));
    let sql = format!("{}; SELECT image_features(content) FROM images", create(dir.path()));
    let output = std::process::Command::new(VERGER)
        .args(["sql", "-c", &sql])
        .env("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("ONNX Runtime was not found: ORT_DYLIB_PATH=/nonexistent/libonnxruntime.so is not a file"), "{stderr}");
    assert!(stderr.contains("onnxruntime==1.31.1"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// ONNX Runtime 1.29+ writes a device id and queues usage events under
/// `~/.cache/Microsoft/DeveloperTools/.onnxruntime/` (uploaded when the network allows) unless
/// `ORT_DISABLE_TELEMETRY=1` is set before it loads, or it believes it runs in CI. verger
/// sets it: a run outside CI leaves nothing in its home directory.
#[test]
fn onnx_runtime_records_no_telemetry() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let images = dir.path().join("images");
    let home = dir.path().join("home");
    for path in [&images, &home] {
        std::fs::create_dir(path).unwrap_or_else(|e| panic!("{e}"));
    }
    std::fs::write(images.join("a.jpg"), verger_imagegen::render_jpeg(0, 0, 1).unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("{e}"));
    let sql = format!("{}; SELECT count(image_features(content)) AS n FROM images", create(&images));
    let mut command = std::process::Command::new(VERGER);
    command.args(["sql", "-q", "--format", "csv", "-c", &sql]).env("HOME", &home);
    // The variables by which ONNX Runtime recognises a CI run and stays quiet on its own.
    for variable in ["CI", "GITHUB_ACTIONS", "GITLAB_CI", "TF_BUILD", "ORT_RUNNING_UNIT_TESTS", verger_features::ORT_TELEMETRY_ENV] {
        command.env_remove(variable);
    }
    let output = command.output().unwrap_or_else(|e| panic!("{e}"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(String::from_utf8_lossy(&output.stdout).ends_with("n\n1\n"), "{stderr}");
    // Anything written under HOME shows as an entry of HOME itself.
    let recorded: Vec<_> = std::fs::read_dir(&home).unwrap_or_else(|e| panic!("{e}")).flatten().map(|entry| entry.path()).collect();
    assert!(recorded.is_empty(), "ONNX Runtime wrote {recorded:?}");
}
