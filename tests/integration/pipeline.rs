//! The Fruits! pipeline (`sql/fruits_pipeline.sql`) end to end, through the `verger`
//! command: S3 in and out (moto) embedded and on a two-executor cluster with the same
//! answer; S3 transient faults retried with nothing lost or duplicated; an executor killed
//! in the middle of a job.

use crate::support::cluster::{Cluster, VERGER, reset_stages, started_tasks, tasks_in_flight};
use crate::support::moto::{FaultProxy, Moto};
use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::Float64Type;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BUCKET: &str = "fruits-pipeline";
const PIPELINE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../sql/fruits_pipeline.sql");

/// One output row: path, label and PCA features.
type Row = (String, String, Vec<f64>);

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn pipeline_command(input: &str, output: &str, env: &[(&'static str, String)], extra: &[&str]) -> Command {
    let mut command = Command::new(VERGER);
    command.args(["sql", "-q", "-f", PIPELINE, "--var", &format!("input={input}"), "--var", &format!("output={output}")]).args(extra);
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    command
}

fn run_pipeline(input: &str, output: &str, env: &[(&'static str, String)], extra: &[&str]) -> Output {
    pipeline_command(input, output, env, extra).output().unwrap_or_else(|e| panic!("could not run {VERGER}: {e}"))
}

/// An embedded session; with `moto`, its bucket is read through the test's client.
fn session(moto: Option<&Moto>) -> SessionContext {
    let ctx = verger::session_context().unwrap_or_else(|e| panic!("{e}"));
    if let Some(moto) = moto {
        let url = datafusion::execution::object_store::ObjectStoreUrl::parse(format!("s3://{BUCKET}")).unwrap_or_else(|e| panic!("{e}"));
        ctx.register_object_store(url.as_ref(), std::sync::Arc::new(moto.store(BUCKET)));
    }
    ctx
}

fn strings(array: &datafusion::arrow::array::ArrayRef) -> Vec<String> {
    let utf8 = datafusion::arrow::compute::cast(array, &datafusion::arrow::datatypes::DataType::Utf8).unwrap_or_else(|e| panic!("{e}"));
    utf8.as_string::<i32>().iter().map(|v| v.unwrap_or_default().to_owned()).collect()
}

/// The committed rows of `output`, by path.
async fn read_output(ctx: &SessionContext, output: &str) -> Vec<Row> {
    let batches: Vec<RecordBatch> = ctx
        .read_parquet(output, ParquetReadOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{output}: {e}"))
        .collect()
        .await
        .unwrap_or_else(|e| panic!("{output}: {e}"));
    let mut rows = Vec::new();
    for batch in &batches {
        let column = |name: &str| batch.column_by_name(name).cloned().unwrap_or_else(|| panic!("no column {name} in {output}"));
        let (paths, labels, features) = (column("path"), column("label"), column("pca_features"));
        let (paths, labels) = (strings(&paths), strings(&labels));
        let features = features.as_list::<i32>();
        for row in 0..batch.num_rows() {
            let values = features.value(row);
            let values = values.as_primitive::<Float64Type>().values().to_vec();
            rows.push((paths[row].clone(), labels[row].clone(), values));
        }
    }
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows
}

/// Same paths, labels and k; features equal to `tolerance`, relative to the largest.
fn assert_same(a: &[Row], b: &[Row], tolerance: f64, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: row counts");
    let scale = a.iter().flat_map(|r| r.2.iter()).fold(0.0f64, |m, v| m.max(v.abs())).max(1e-300);
    for (x, y) in a.iter().zip(b) {
        assert_eq!((&x.0, &x.1, x.2.len()), (&y.0, &y.1, y.2.len()), "{what}");
        let worst = x.2.iter().zip(&y.2).fold(0.0f64, |m, (p, q)| m.max((p - q).abs()));
        assert!(worst <= tolerance * scale, "{what}: {} differs by {worst} (scale {scale})", x.0);
    }
}

async fn uploaded_images(moto: &Moto, labels: usize, per_label: usize) -> tempfile::TempDir {
    moto.create_bucket(BUCKET);
    let images = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    verger_imagegen::generate(images.path(), labels, per_label, 11).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(moto.upload_tree(images.path(), BUCKET, "images").await, labels * per_label);
    images
}

async fn object_names(moto: &Moto, prefix: &str) -> Vec<String> {
    let store = moto.store(BUCKET);
    let mut names: Vec<String> = futures::TryStreamExt::try_collect::<Vec<_>>(store.list(Some(&Path::from(prefix))))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|meta| meta.location.to_string())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread")]
async fn the_pipeline_runs_embedded_and_on_the_cluster_against_s3() {
    let moto = Moto::start();
    let _images = uploaded_images(&moto, 4, 6).await;
    let env = moto.environment();
    let input = format!("s3://{BUCKET}/images/");

    let embedded = run_pipeline(&input, &format!("s3://{BUCKET}/out-embedded/"), &env, &[]);
    assert!(embedded.status.success(), "embedded: {}", text(&embedded.stderr));

    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let cluster = Cluster::start(2, &env_refs);
    // On a cluster the one-liners' materialised features go to storage every executor shares.
    let materialize = format!("verger.materialize.dir=s3://{BUCKET}/materialize/");
    let remote = run_pipeline(&input, &format!("s3://{BUCKET}/out-cluster/"), &env, &["--cluster", &cluster.url(), "--set", &materialize]);
    assert!(remote.status.success(), "cluster: {}\n{}", text(&remote.stderr), cluster.all_logs());

    // Ballista's static planner cuts stages differently; the transform still reads the fit.
    let static_planner = ["--cluster", &cluster.url(), "--set", &materialize, "--set", "ballista.planner.adaptive.enabled=false"];
    let fixed = run_pipeline(&input, &format!("s3://{BUCKET}/out-static/"), &env, &static_planner);
    assert!(fixed.status.success(), "static planner: {}\n{}", text(&fixed.stderr), cluster.all_logs());

    let ctx = session(Some(&moto));
    let (a, b) =
        (read_output(&ctx, &format!("s3://{BUCKET}/out-embedded/")).await, read_output(&ctx, &format!("s3://{BUCKET}/out-cluster/")).await);
    assert_eq!(a.len(), 24);
    assert!(a.iter().all(|r| r.0.ends_with(".jpg") && r.0.split('/').rev().nth(1) == Some(r.1.as_str())), "labels from folders");
    assert_same(&a, &b, 1e-9, "embedded vs cluster");
    assert_same(&a, &read_output(&ctx, &format!("s3://{BUCKET}/out-static/")).await, 1e-9, "embedded vs cluster, static planner");

    for output in ["out-embedded", "out-cluster", "out-static"] {
        let names = object_names(&moto, output).await;
        assert!(names.contains(&format!("{output}/_SUCCESS")), "{names:?}");
        assert!(names.iter().all(|n| !n.contains("_temporary")), "staging cleaned up: {names:?}");
    }
    assert!(object_names(&moto, "materialize").await.is_empty(), "materialised features cleaned up");

    // S3 credentials never show in what the job printed or the cluster logged.
    let printed = [text(&embedded.stdout), text(&embedded.stderr), text(&remote.stdout), text(&remote.stderr), cluster.all_logs()].concat();
    for secret in [crate::support::moto::SECRET_KEY, crate::support::moto::ACCESS_KEY] {
        assert!(!printed.contains(secret), "a credential shows in the job's output or logs");
    }

    let report =
        Command::new(VERGER).args(["report", &format!("s3://{BUCKET}/out-cluster/")]).envs(env.iter().map(|(k, v)| (*k, v))).output();
    let report = report.unwrap_or_else(|e| panic!("{e}"));
    assert!(report.status.success(), "{}", text(&report.stderr));
    assert!(text(&report.stdout).contains("rows        24"), "{}", text(&report.stdout));
    let plot = moto.store(BUCKET).head(&Path::from("out-cluster_pca.png")).await;
    assert!(plot.is_ok_and(|meta| meta.size > 10_000), "the plot is written next to the output");
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_slowdowns_and_dropped_connections_are_retried_without_loss_or_duplicates() {
    let moto = Moto::start();
    let _images = uploaded_images(&moto, 3, 6).await;
    let input = format!("s3://{BUCKET}/images/");
    let clean = run_pipeline(&input, &format!("s3://{BUCKET}/out-clean/"), &moto.environment(), &[]);
    assert!(clean.status.success(), "{}", text(&clean.stderr));

    // Every 5th request answered 503 SlowDown, and the next one dropped.
    let proxy = FaultProxy::start(&moto, 5);
    let mut env = moto.environment();
    for (key, value) in env.iter_mut() {
        if *key == "AWS_ENDPOINT" {
            *value = proxy.endpoint();
        }
    }
    let faulty = run_pipeline(&input, &format!("s3://{BUCKET}/out-faulty/"), &env, &[]);
    assert!(faulty.status.success(), "transient faults must be retried: {}", text(&faulty.stderr));
    let (requests, slowdowns, drops) = proxy.stats();
    assert!(slowdowns >= 3 && drops >= 3, "faults injected: {requests} requests, {slowdowns} SlowDown, {drops} dropped");

    let ctx = session(Some(&moto));
    let (a, b) =
        (read_output(&ctx, &format!("s3://{BUCKET}/out-clean/")).await, read_output(&ctx, &format!("s3://{BUCKET}/out-faulty/")).await);
    assert_eq!(a.len(), 18);
    assert_same(&a, &b, 1e-12, "clean vs faulty S3");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_executor_killed_mid_job_leaves_a_complete_output_or_none() {
    let images = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    verger_imagegen::generate(images.path(), 6, 12, 3).unwrap_or_else(|e| panic!("{e}"));
    let out = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let input = images.path().display().to_string();
    let (clean_dir, killed_dir) = (out.path().join("clean").display().to_string(), out.path().join("killed").display().to_string());
    let clean = run_pipeline(&input, &clean_dir, &[], &[]);
    assert!(clean.status.success(), "{}", text(&clean.stderr));

    let mut cluster = Cluster::start(2, &[]);
    let mut job = pipeline_command(&input, &killed_dir, &[], &["--cluster", &cluster.url()]).spawn().unwrap_or_else(|e| panic!("{e}"));
    // Kill the first executor seen running a task of this job (more tasks started than
    // finished): the other must take its work over, or the job must fail cleanly.
    let in_flight = |log: &str| log.matches("Execute task").count() > log.matches("Finished task").count();
    let deadline = Instant::now() + Duration::from_secs(120);
    let victim = loop {
        if let Some(name) = ["executor-0", "executor-1"].into_iter().find(|name| in_flight(&cluster.log(name))) {
            break name;
        }
        assert!(
            job.try_wait().unwrap_or_else(|e| panic!("{e}")).is_none(),
            "the job ended before a task was seen running:\n{}",
            cluster.all_logs()
        );
        assert!(Instant::now() < deadline, "no task ran within 2 minutes:\n{}", cluster.all_logs());
        std::thread::sleep(Duration::from_millis(10));
    };
    let survivor = if victim == "executor-0" { "executor-1" } else { "executor-0" };
    let survivor_before = cluster.log(survivor).len();
    cluster.kill(victim);
    let started = Instant::now();
    let output = loop {
        if let Some(_status) = job.try_wait().unwrap_or_else(|e| panic!("{e}")) {
            break job.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the job neither finished nor failed within 5 minutes:\n{}",
            cluster.all_logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let committed = std::path::Path::new(&killed_dir).join("_SUCCESS").exists();
    let ctx = session(None);
    if output.status.success() {
        assert!(committed, "a job that succeeds commits");
        let (a, b) = (read_output(&ctx, &clean_dir).await, read_output(&ctx, &killed_dir).await);
        assert_eq!(a.len(), 72);
        assert_same(&a, &b, 1e-9, "clean vs executor killed");
        let reruns = rerun_elsewhere(&cluster, victim, survivor, survivor_before);
        println!("{victim} killed mid-task: the job completed {:?} after the kill, output identical; {reruns}", started.elapsed());
    } else {
        let error = text(&output.stderr);
        assert!(!committed, "a failed job must not commit:\n{error}");
        assert!(error.contains("Error"), "a clear error: {error}");
        let visible: Vec<_> = std::fs::read_dir(&killed_dir)
            .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| !n.starts_with('_')).collect())
            .unwrap_or_default();
        assert!(visible.is_empty(), "no partial output: {visible:?}");
        println!("{victim} killed mid-task: the job failed cleanly {:?} after the kill: {error}", started.elapsed());
    }
}

/// Shows that the tasks `victim` held when it was killed ran again on `survivor`: the
/// scheduler reset them (its `Reset N tasks for … job/stage J/S on lost Executor` lines) and
/// `survivor` started tasks of those stages after the kill (its log past `survivor_before`).
fn rerun_elsewhere(cluster: &Cluster, victim: &str, survivor: &str, survivor_before: usize) -> String {
    let jobs: Vec<String> = started_tasks(&cluster.log(victim)).into_iter().map(|t| t.job).collect();
    let reset: Vec<(String, u32)> = reset_stages(&cluster.log("scheduler")).into_iter().filter(|(job, _)| jobs.contains(job)).collect();
    assert!(!reset.is_empty(), "the scheduler reset none of {victim}'s tasks:\n{}", cluster.all_logs());
    let after_kill = cluster.log(survivor).get(survivor_before..).unwrap_or_default().to_owned();
    let rerun: Vec<_> = started_tasks(&after_kill).into_iter().filter(|t| reset.contains(&(t.job.clone(), t.stage))).collect();
    assert!(!rerun.is_empty(), "{survivor} ran no task of the reset stages {reset:?} after the kill:\n{}", cluster.all_logs());
    format!("stages {:?} reset, {} of their tasks run again on {survivor}", reset.iter().map(|r| r.1).collect::<Vec<_>>(), rerun.len())
}

/// The executor that ran the fit's merge: the one task of a stage after the first.
fn model_holder(cluster: &Cluster) -> Option<&'static str> {
    let names = ["executor-0", "executor-1"];
    let finished: Vec<(usize, crate::support::cluster::TaskLine)> = names
        .iter()
        .enumerate()
        .flat_map(|(i, n)| crate::support::cluster::finished_tasks(&cluster.log(n)).into_iter().map(move |t| (i, t)))
        .collect();
    let first = finished.iter().map(|(_, t)| t.stage).min()?;
    let single = |stage: u32| finished.iter().filter(|(_, t)| t.stage == stage).count() == 1;
    finished.iter().find(|(_, t)| t.stage != first && single(t.stage)).map(|(i, _)| names[*i])
}

/// Paths of the files under `dir`, recursively.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() { pending.push(path) } else { found.push(path) }
        }
    }
    found
}

/// The transform's stage reads the materialised features after the fit. An executor killed
/// while that stage runs (the fit's stages done: every part written, the first staged
/// Parquet file written) loses reader tasks, which Ballista runs again on the other
/// executor: they must still find every part, and the job gives the clean run's rows.
#[tokio::test(flavor = "multi_thread")]
async fn an_executor_killed_in_the_transform_stage_reruns_its_readers_with_the_same_rows() {
    let images = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    verger_imagegen::generate(images.path(), 4, 12, 7).unwrap_or_else(|e| panic!("{e}"));
    let out = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let scratch = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let input = images.path().display().to_string();
    let (clean_dir, killed_dir) = (out.path().join("clean").display().to_string(), out.path().join("killed").display().to_string());
    let clean = run_pipeline(&input, &clean_dir, &[], &[]);
    assert!(clean.status.success(), "{}", text(&clean.stderr));

    let mut cluster = Cluster::start(2, &[]);
    let materialize = format!("verger.materialize.dir={}", scratch.path().display());
    // Many small reader tasks, so that the transform's stage lasts long enough to be hit.
    let settings = ["--cluster", &cluster.url(), "--set", &materialize, "--set", "datafusion.execution.target_partitions=16"];
    let mut job = pipeline_command(&input, &killed_dir, &[], &settings).spawn().unwrap_or_else(|e| panic!("{e}"));
    let staged = std::path::Path::new(&killed_dir).join("_temporary");
    let deadline = Instant::now() + Duration::from_secs(180);
    let victim = loop {
        let parts = files_under(scratch.path()).iter().filter(|p| p.extension().is_some_and(|e| e == "arrow")).count();
        let transforming = parts > 0 && !files_under(&staged).is_empty();
        // Not the executor that holds the fit's one-row result: Ballista 55's adaptive
        // planner does not recover from losing a stage two levels under the running one
        // (it resubmits the fit's merge, whose input went with the executor, and hangs).
        let holder = model_holder(&cluster);
        let candidate =
            ["executor-0", "executor-1"].into_iter().find(|n| Some(*n) != holder && !tasks_in_flight(&cluster.log(n)).is_empty());
        if transforming && let Some(name) = candidate {
            break name;
        }
        assert!(
            job.try_wait().unwrap_or_else(|e| panic!("{e}")).is_none(),
            "the job ended before the transform was hit:\n{}",
            cluster.all_logs()
        );
        assert!(Instant::now() < deadline, "the transform did not start within 3 minutes:\n{}", cluster.all_logs());
        std::thread::sleep(Duration::from_millis(5));
    };
    let survivor = if victim == "executor-0" { "executor-1" } else { "executor-0" };
    let survivor_before = cluster.log(survivor).len();
    cluster.kill(victim);
    let killed = Instant::now();
    while job.try_wait().unwrap_or_else(|e| panic!("{e}")).is_none() {
        if killed.elapsed() > Duration::from_secs(240) {
            let _ = job.kill();
            panic!("the job did not end within 4 minutes of the kill:\n{}", cluster.all_logs());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let output = job.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    assert!(output.status.success(), "the job must complete: {}\n{}", text(&output.stderr), cluster.all_logs());
    let ctx = session(None);
    let (a, b) = (read_output(&ctx, &clean_dir).await, read_output(&ctx, &killed_dir).await);
    assert_eq!(a.len(), 48);
    assert_same(&a, &b, 1e-9, "clean vs executor killed in the transform");
    let reruns = rerun_elsewhere(&cluster, victim, survivor, survivor_before);
    assert!(files_under(scratch.path()).is_empty(), "the parts are removed at the end: {:?}", files_under(scratch.path()));
    println!("{victim} killed in the transform stage: {reruns}");
}

/// Bad photos under `verger.images.on_error = 'null'`: the job says which files gave NULL
/// features, and the report counts those rows apart and draws only the others.
#[test]
fn unreadable_photos_are_counted_by_the_job_and_by_the_report() {
    let input = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    verger_imagegen::generate(input.path(), 2, 3, 0).unwrap_or_else(|e| panic!("{e}"));
    let bad = input.path().join("Bad");
    std::fs::create_dir_all(&bad).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(bad.join("broken.jpg"), b"\xff\xd8\xff\xe0 not really a JPEG").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(bad.join("notes.jpg"), b"shopping list, not a picture").unwrap_or_else(|e| panic!("{e}"));
    let output = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = output.path().join("features");
    let job = run_pipeline(&input.path().to_string_lossy(), &out.to_string_lossy(), &[], &["--set", "verger.images.on_error=null"]);
    let printed = text(&job.stderr);
    assert!(job.status.success(), "{printed}");
    assert!(printed.contains("became NULL (verger.images.on_error = 'null'), from 2 files:"), "{printed}");
    assert!(printed.contains("broken.jpg") && printed.contains("notes.jpg"), "{printed}");

    let report = Command::new(VERGER).args(["report", &out.to_string_lossy()]).output().unwrap_or_else(|e| panic!("{e}"));
    let summary = text(&report.stdout);
    assert!(report.status.success(), "{}", text(&report.stderr));
    assert!(summary.contains("rows        8, 2 without features"), "{summary}");
    assert!(summary.contains("(6 points)"), "the plot draws the rows with features only: {summary}");
}
