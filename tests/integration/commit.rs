//! The Parquet commit interrupted at each of its steps, on S3 (moto): a request of the step
//! failing (403 through the fault proxy), or the `verger` process killed (SIGKILL) while the
//! step's request hangs. At every point, the output as verger reads it and as pyarrow reads
//! the files its manifest lists is exactly the previous output or exactly the new one; the
//! job run again leaves the new output whole, with no file that no manifest lists.

use crate::support::cluster::VERGER;
use crate::support::moto::{FaultProxy, Moto};
use object_store::path::Path;
use std::collections::BTreeMap;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BUCKET: &str = "commit-faults";
const MANIFEST_READER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/python/manifest_rows.py");

/// Rows and the sum of `id`, by `tag`.
type Totals = BTreeMap<String, (u64, u64)>;

/// The previous output: ids 1..=600 tagged `old`, in 2 files.
const OLD: (&str, u64, usize) = ("old", 600, 2);
/// The new one: ids 1..=900 tagged `new`, in 3 files.
const NEW: (&str, u64, usize) = ("new", 900, 3);

fn totals(parts: &[(&str, u64, u64)]) -> Totals {
    let mut totals = Totals::new();
    for (tag, rows, times) in parts {
        let entry = totals.entry((*tag).to_owned()).or_default();
        entry.0 += rows * times;
        entry.1 += rows * (rows + 1) / 2 * times;
    }
    totals
}

/// `COPY` of ids 1..=rows tagged `tag`, as `files` branches of a UNION ALL (a partition, so
/// a file, each).
fn copy_statement(output: &str, (tag, rows, files): (&str, u64, usize), mode: &str) -> String {
    let per = rows / files as u64;
    let branches: Vec<String> = (0..files as u64)
        .map(|i| format!("SELECT value AS id, '{tag}' AS tag FROM generate_series({}, {})", i * per + 1, (i + 1) * per))
        .collect();
    format!("COPY ({}) TO '{output}' STORED AS PARQUET OPTIONS ('mode' '{mode}')", branches.join(" UNION ALL "))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn verger_sql(env: &[(&'static str, String)], sql: &str) -> Command {
    let mut command = Command::new(VERGER);
    command.args(["sql", "-q", "--format", "csv", "-c", sql]).envs(env.iter().map(|(k, v)| (*k, v)));
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    command
}

fn run(env: &[(&'static str, String)], sql: &str) -> Output {
    verger_sql(env, sql).output().unwrap_or_else(|e| panic!("{VERGER}: {e}"))
}

/// The output as a verger table over it reads it, or verger's error.
fn read_with_verger(env: &[(&'static str, String)], output: &str) -> Result<Totals, String> {
    let sql = format!(
        "CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION '{output}'; \
         SELECT tag, count(*) AS n, sum(id) AS s FROM t GROUP BY tag ORDER BY tag"
    );
    let result = run(env, &sql);
    if !result.status.success() {
        return Err(text(&result.stderr));
    }
    let mut totals = Totals::new();
    for line in text(&result.stdout).lines() {
        let fields: Vec<&str> = line.split(',').collect();
        if let [tag, n, s] = fields.as_slice()
            && let (Ok(n), Ok(s)) = (n.parse::<u64>(), s.parse::<u64>())
        {
            totals.insert((*tag).to_owned(), (n, s));
        }
    }
    Ok(totals)
}

/// What pyarrow reads: the files the manifest lists (`None`: no manifest) and their names.
struct PyarrowView {
    manifest: Option<Totals>,
    listed: Vec<String>,
    directory: serde_json::Value,
}

fn read_with_pyarrow(env: &[(&'static str, String)], output: &str) -> PyarrowView {
    let venv = std::env::var("VERGER_VENV").unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../.venv").to_owned());
    let result = Command::new(format!("{venv}/bin/python"))
        .arg(MANIFEST_READER)
        .arg(output)
        .envs(env.iter().map(|(k, v)| (*k, v)))
        .output()
        .unwrap_or_else(|e| panic!("python: {e}"));
    assert!(result.status.success(), "pyarrow could not read {output}: {}", text(&result.stderr));
    let json: serde_json::Value = serde_json::from_slice(&result.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&result.stdout)));
    let to_totals = |value: &serde_json::Value| -> Totals {
        value
            .as_object()
            .map(|tags| {
                tags.iter()
                    .map(|(tag, pair)| (tag.clone(), (pair[0].as_u64().unwrap_or(u64::MAX), pair[1].as_u64().unwrap_or(u64::MAX))))
                    .collect()
            })
            .unwrap_or_default()
    };
    PyarrowView {
        manifest: (!json["manifest"].is_null()).then(|| to_totals(&json["manifest"])),
        listed: json["listed"]
            .as_array()
            .map(|names| names.iter().filter_map(|n| n.as_str().map(str::to_owned)).collect())
            .unwrap_or_default(),
        directory: json["directory"].clone(),
    }
}

async fn object_names(moto: &Moto, prefix: &str) -> Vec<String> {
    let store = moto.store(BUCKET);
    let listed: Vec<object_store::ObjectMeta> =
        futures::TryStreamExt::try_collect(object_store::ObjectStore::list(&store, Some(&Path::from(prefix))))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    let mut names: Vec<String> = listed.into_iter().map(|meta| meta.location.to_string()[prefix.len() + 1..].to_owned()).collect();
    names.sort();
    names
}

fn proxied(moto: &Moto, proxy: &FaultProxy) -> Vec<(&'static str, String)> {
    let mut env = moto.environment();
    for (key, value) in env.iter_mut() {
        if *key == "AWS_ENDPOINT" {
            *value = proxy.endpoint();
        }
    }
    env
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Interruption {
    /// The step's request answered 403: the command fails.
    Fail,
    /// The step's request held unanswered and the command killed (SIGKILL) meanwhile.
    Kill,
}

/// A step of the commit: the requests it starts with, and whether the switch is done.
struct Step {
    name: &'static str,
    /// `<METHOD> <path>` regex, `{prefix}` standing for the output's.
    pattern: &'static str,
    /// Matching requests let through first.
    skip: u32,
    switched: bool,
}

const STEPS: [Step; 5] = [
    // object_store deletes through DeleteObjects, even a single object.
    Step { name: "removing _SUCCESS", pattern: "^POST /{bucket}\\?delete .*{prefix}/_SUCCESS", skip: 0, switched: false },
    Step { name: "moving the second file in", pattern: "^COPY /{bucket}/{prefix}/part-", skip: 1, switched: false },
    Step { name: "writing the manifest", pattern: "^PUT /{bucket}/{prefix}/_verger_manifest\\.json", skip: 0, switched: false },
    Step {
        name: "removing what no manifest lists",
        pattern: "^POST /{bucket}\\?delete .*{prefix}/(part-|_temporary/)",
        skip: 0,
        switched: true,
    },
    Step { name: "writing _SUCCESS", pattern: "^PUT /{bucket}/{prefix}/_SUCCESS", skip: 0, switched: true },
];

/// Runs `sql` through a proxy applying `rule`, interrupted as `how`.
fn interrupted(moto: &Moto, rule: &str, how: Interruption, sql: &str, what: &str) {
    let proxy = FaultProxy::with_rule(moto, rule);
    let env = proxied(moto, &proxy);
    match how {
        Interruption::Fail => {
            let result = run(&env, sql);
            assert!(!result.status.success(), "{what}: the job succeeded through {rule}:\n{}", proxy.rule_log());
            assert!(proxy.rule_hits() >= 1, "{what}: {rule} never applied: {}", text(&result.stderr));
        }
        Interruption::Kill => {
            let mut child = verger_sql(&env, sql).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap_or_else(|e| panic!("{e}"));
            let deadline = Instant::now() + Duration::from_secs(60);
            while proxy.rule_hits() == 0 {
                let exited = child.try_wait().unwrap_or_else(|e| panic!("{e}"));
                assert!(exited.is_none(), "{what}: the job ended ({exited:?}) before {rule} applied:\n{}", proxy.rule_log());
                assert!(Instant::now() < deadline, "{what}: {rule} never applied");
                std::thread::sleep(Duration::from_millis(20));
            }
            child.kill().unwrap_or_else(|e| panic!("{e}"));
            let _ = child.wait();
        }
    }
}

/// Both readers see `expected`; with `whole`, so does a plain directory reader, and the
/// output holds nothing but the manifest's files, the manifest and `_SUCCESS`.
async fn assert_output(moto: &Moto, prefix: &str, expected: &Totals, whole: bool, what: &str) {
    let (env, output) = (moto.environment(), format!("s3://{BUCKET}/{prefix}/"));
    assert_eq!(read_with_verger(&env, &output).as_ref(), Ok(expected), "{what}: verger's table");
    let pyarrow = read_with_pyarrow(&env, &output);
    assert_eq!(pyarrow.manifest.as_ref(), Some(expected), "{what}: pyarrow on the manifest's files");
    if whole {
        let names = object_names(moto, prefix).await;
        let mut wanted: Vec<String> = pyarrow.listed.clone();
        wanted.extend(["_SUCCESS".to_owned(), "_verger_manifest.json".to_owned()]);
        wanted.sort();
        assert_eq!(names, wanted, "{what}: exactly the manifest's files, the manifest and _SUCCESS");
        let directory: Totals = expected.clone();
        let seen: Totals = pyarrow
            .directory
            .as_object()
            .map(|tags| tags.iter().map(|(t, p)| (t.clone(), (p[0].as_u64().unwrap_or(0), p[1].as_u64().unwrap_or(0)))).collect())
            .unwrap_or_default();
        assert_eq!(seen, directory, "{what}: pyarrow.dataset on the directory");
    }
}

/// `mode` over a previous output, interrupted at each step as `how`, then run again.
async fn each_step(moto: &Moto, mode: &str, how: Interruption) {
    for (i, step) in STEPS.iter().enumerate() {
        let prefix = format!("{mode}-{how:?}-{i}").to_lowercase();
        let output = format!("s3://{BUCKET}/{prefix}/");
        let what = format!("{mode}, {how:?} while {}", step.name);
        let previous = run(&moto.environment(), &copy_statement(&output, OLD, mode));
        assert!(previous.status.success(), "{what}: {}", text(&previous.stderr));
        let old = totals(&[(OLD.0, OLD.1, 1)]);
        assert_output(moto, &prefix, &old, true, &format!("{what}: the previous output")).await;

        let rule = format!("{}:{}:{}", if how == Interruption::Fail { "fail" } else { "stall" }, step.skip, step.pattern)
            .replace("{bucket}", BUCKET)
            .replace("{prefix}", &prefix);
        interrupted(moto, &rule, how, &copy_statement(&output, NEW, mode), &what);
        let appended = mode == "append";
        let new_once = if appended { totals(&[(OLD.0, OLD.1, 1), (NEW.0, NEW.1, 1)]) } else { totals(&[(NEW.0, NEW.1, 1)]) };
        let seen = if step.switched { &new_once } else { &old };
        assert_output(moto, &prefix, seen, false, &format!("{what}: after the interruption")).await;

        let again = run(&moto.environment(), &copy_statement(&output, NEW, mode));
        assert!(again.status.success(), "{what}: run again: {}", text(&again.stderr));
        let repaired = match (appended, step.switched) {
            (false, _) => totals(&[(NEW.0, NEW.1, 1)]),
            (true, false) => totals(&[(OLD.0, OLD.1, 1), (NEW.0, NEW.1, 1)]),
            // The interrupted append had committed: running it again appends again.
            (true, true) => totals(&[(OLD.0, OLD.1, 1), (NEW.0, NEW.1, 2)]),
        };
        assert_output(moto, &prefix, &repaired, true, &format!("{what}: run again")).await;
    }
}

fn bucket() -> Moto {
    let moto = Moto::start();
    moto.create_bucket(BUCKET);
    moto
}

#[tokio::test(flavor = "multi_thread")]
async fn an_overwrite_failing_at_any_step_shows_the_old_or_the_new_output_whole() {
    each_step(&bucket(), "overwrite", Interruption::Fail).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_overwrite_killed_at_any_step_shows_the_old_or_the_new_output_whole() {
    each_step(&bucket(), "overwrite", Interruption::Kill).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_append_failing_at_any_step_adds_all_its_rows_or_none() {
    each_step(&bucket(), "append", Interruption::Fail).await;
}

/// A first write (the default mode, `errorifexists`) interrupted while its files move in
/// shows no output to the manifest's readers, and running it again is not refused: the
/// files of the interrupted commit are not data.
#[tokio::test(flavor = "multi_thread")]
async fn an_interrupted_first_write_commits_nothing_and_can_be_run_again() {
    let moto = bucket();
    let prefix = "first";
    let output = format!("s3://{BUCKET}/{prefix}/");
    let rule = format!("fail:1:^COPY /{BUCKET}/{prefix}/part-");
    interrupted(&moto, &rule, Interruption::Fail, &copy_statement(&output, NEW, "errorifexists"), "first write");
    let env = moto.environment();
    let refused = read_with_verger(&env, &output);
    assert!(refused.as_ref().is_err_and(|e| e.contains("no committed files yet")), "{refused:?}");
    let pyarrow = read_with_pyarrow(&env, &output);
    assert_eq!((pyarrow.manifest, pyarrow.listed.len()), (Some(Totals::new()), 0), "the manifest lists nothing yet");

    let again = run(&env, &copy_statement(&output, NEW, "errorifexists"));
    assert!(again.status.success(), "run again: {}", text(&again.stderr));
    assert_output(&moto, prefix, &totals(&[(NEW.0, NEW.1, 1)]), true, "first write, run again").await;
    let refused = run(&env, &copy_statement(&output, NEW, "errorifexists"));
    assert!(!refused.status.success() && text(&refused.stderr).contains("errorifexists"), "a committed output is data");
}
