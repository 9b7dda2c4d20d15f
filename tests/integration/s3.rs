//! S3 through moto: the binaryFile source reads a bucket embedded and on a cluster, and
//! credentials never show in errors, EXPLAIN or logs.

use crate::cluster::rows;
use crate::support::cluster::Cluster;
use crate::support::moto::{self, Moto};
use datafusion::prelude::SessionContext;

const BUCKET: &str = "fruits-eu";

/// moto with bucket `fruits-eu`: 13 images under `fruits/` (3 labels of 4, one in `Café #1 %20`)
/// and one hidden under `fruits/_temporary/`.
pub async fn bucket_with_images() -> (Moto, tempfile::TempDir) {
    let moto = Moto::start();
    moto.create_bucket(BUCKET);
    let images = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    verger_imagegen::generate(images.path(), 3, 4, 5).unwrap_or_else(|e| panic!("{e}"));
    // A key with characters that URLs would encode: kept literally in `path`.
    std::fs::create_dir_all(images.path().join("Café #1 %20")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(images.path().join("Café #1 %20/0_100.jpg"), b"cafe").unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(images.path().join("_temporary")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(images.path().join("_temporary/0_100.jpg"), b"hidden").unwrap_or_else(|e| panic!("{e}"));
    let uploaded = moto.upload_tree(images.path(), BUCKET, "fruits").await;
    assert_eq!(uploaded, 14);
    (moto, images)
}

async fn set(ctx: &SessionContext, settings: &[(String, String)]) {
    for (key, value) in settings {
        ctx.sql(&format!("SET {key} = '{value}'")).await.unwrap_or_else(|e| panic!("{e}"));
    }
}

/// The error a statement ends with, planning or running; empty when it succeeds.
async fn error_of(ctx: &SessionContext, sql: &str) -> String {
    match ctx.sql(sql).await {
        Ok(frame) => frame.collect().await.err().map(|e| e.to_string()).unwrap_or_default(),
        Err(error) => error.to_string(),
    }
}

const CREATE: &str = "CREATE EXTERNAL TABLE images STORED AS BINARYFILE LOCATION 's3://fruits-eu/fruits/' OPTIONS ('pathGlobFilter' '*.jpg', 'recursiveFileLookup' 'true')";
const SUMMARY: &str =
    "SELECT element_at(split(path, '/'), -2) AS label, count(*) AS images, sum(length) AS bytes FROM images GROUP BY 1 ORDER BY 1";
const PATHS: &str = "SELECT path, length, sha256(content) AS digest FROM images ORDER BY path";

#[tokio::test(flavor = "multi_thread")]
async fn reads_a_bucket_embedded_and_on_the_cluster() {
    let (moto, images) = bucket_with_images().await;

    let embedded = verger::session_context().unwrap_or_else(|e| panic!("{e}"));
    set(&embedded, &moto.session_settings()).await;
    embedded.sql(CREATE).await.unwrap_or_else(|e| panic!("{e}"));
    let summary = rows(&embedded, SUMMARY).await;
    for label in ["Apple Braeburn", "Apple Granny Smith", "Apricot", "Café #1 %20"] {
        assert!(summary.contains(label), "{label} missing:\n{summary}");
    }
    let paths = rows(&embedded, PATHS).await;
    assert!(paths.contains("s3://fruits-eu/fruits/Apple Braeburn/0_100.jpg"), "{paths}");
    assert!(paths.contains("s3://fruits-eu/fruits/Café #1 %20/0_100.jpg"), "{paths}");
    assert!(!paths.contains("_temporary"), "{paths}");

    // The content read from S3 is the file's bytes.
    let local = std::fs::read(images.path().join("Apricot/3_100.jpg")).unwrap_or_else(|e| panic!("{e}"));
    let check = format!(
        "SELECT length FROM images WHERE path = 's3://fruits-eu/fruits/Apricot/3_100.jpg' AND content = X'{}'",
        local.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    assert!(rows(&embedded, &check).await.contains(&local.len().to_string()));

    // The client of the cluster has no S3 settings at all: the recursive table needs no
    // listing on the client, so the files can only have been listed by the scheduler and read
    // by the executors, with their own credentials (from their environment).
    let environment = moto.environment();
    let environment: Vec<(&str, &str)> = environment.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let cluster = Cluster::start(2, &environment);
    let remote = verger_cluster::remote_context(&cluster.url()).await.unwrap_or_else(|e| panic!("{e}"));
    remote.sql(CREATE).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rows(&remote, SUMMARY).await, summary, "{}", cluster.all_logs());
    assert_eq!(rows(&remote, PATHS).await, paths, "{}", cluster.all_logs());
}

#[tokio::test(flavor = "multi_thread")]
async fn gen_images_writes_to_a_bucket() {
    let moto = Moto::start();
    moto.create_bucket("generated");
    let out = std::process::Command::new(crate::support::cluster::VERGER)
        .args(["gen-images", "--out", "s3://generated/fruits", "--labels", "2", "--per-label", "3"])
        .envs(moto.environment())
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let ctx = verger::session_context().unwrap_or_else(|e| panic!("{e}"));
    set(&ctx, &moto.session_settings()).await;
    ctx.sql("CREATE EXTERNAL TABLE g STORED AS BINARYFILE LOCATION 's3://generated/fruits' OPTIONS ('recursiveFileLookup' 'true')")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let summary = rows(&ctx, SUMMARY.replace("images", "g").as_str()).await;
    assert!(summary.contains("| Apple Braeburn     | 3 ") && summary.contains("| Apple Granny Smith | 3 "), "{summary}");
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_never_show_in_errors_explain_or_logs() {
    let (moto, _images) = bucket_with_images().await;
    // Trace logging on the cluster: Ballista then logs every setting it receives.
    let cluster = Cluster::start(2, &[("RUST_LOG", "trace")]);
    let remote = verger_cluster::remote_context(&cluster.url()).await.unwrap_or_else(|e| panic!("{e}"));
    set(&remote, &moto.session_settings()).await;
    remote.sql(CREATE).await.unwrap_or_else(|e| panic!("{e}"));
    let summary = rows(&remote, SUMMARY).await;
    assert!(summary.contains("Apricot"), "{summary}");

    let explain = rows(&remote, &format!("EXPLAIN {PATHS}")).await;
    let missing_bucket = error_of(&remote, "CREATE EXTERNAL TABLE nope STORED AS BINARYFILE LOCATION 's3://no-such-bucket/x/'").await;
    assert!(!missing_bucket.is_empty(), "a missing bucket is an error");

    // A configuration error, raised while the credentials are set.
    let refused = verger::session_context().unwrap_or_else(|e| panic!("{e}"));
    let mut settings = moto.session_settings();
    settings.retain(|(k, _)| k != "s3.allow_http");
    settings.push(("s3.allow_http".into(), "false".into()));
    set(&refused, &settings).await;
    refused.sql(CREATE).await.unwrap_or_else(|e| panic!("{e}"));
    let refused_error = error_of(&refused, SUMMARY).await;
    assert!(refused_error.contains("plain HTTP is refused"), "{refused_error}");

    let logs = cluster.all_logs();
    assert!(logs.contains("s3.secret_access_key"), "the trace logs show the settings travelling");
    for (what, text) in [("EXPLAIN", &explain), ("error", &missing_bucket), ("error", &refused_error), ("logs", &logs)] {
        for secret in [moto::SECRET_KEY, moto::ACCESS_KEY] {
            assert!(!text.contains(secret), "{what} shows a credential:\n{text}");
        }
    }
}
