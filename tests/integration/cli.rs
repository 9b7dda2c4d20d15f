//! The `verger` command as a user runs it.

use crate::support::cluster::VERGER;
use crate::support::fixtures::Fixtures;
use std::io::Write;
use std::process::{Command, Output, Stdio};

fn verger(args: &[&str]) -> Output {
    // HOME is the test's own: nothing a command writes there reaches the user's.
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    Command::new(VERGER).args(args).env("HOME", home.path()).stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("{VERGER}: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn formats_results_as_table_csv_json_and_ndjson() {
    let sql = "SELECT 1 AS n, 'Apple Braeburn' AS label UNION ALL SELECT 2, NULL ORDER BY n";
    let table = verger(&["sql", "-q", "-c", sql]);
    assert!(table.status.success(), "{}", text(&table.stderr));
    assert!(text(&table.stdout).contains("| 1 | Apple Braeburn |"), "{}", text(&table.stdout));

    let csv = verger(&["sql", "-q", "--format", "csv", "-c", sql]);
    assert_eq!(text(&csv.stdout), "n,label\n1,Apple Braeburn\n2,\n");

    let json = verger(&["sql", "-q", "--format", "json", "-c", sql]);
    assert_eq!(text(&json.stdout).trim(), r#"[{"n":1,"label":"Apple Braeburn"},{"n":2}]"#);

    let ndjson = verger(&["sql", "-q", "--format", "ndjson", "-c", sql]);
    assert_eq!(text(&ndjson.stdout), "{\"n\":1,\"label\":\"Apple Braeburn\"}\n{\"n\":2}\n");
}

#[test]
fn runs_files_of_several_statements_with_variables() {
    let fixtures = Fixtures::build();
    let script = tempfile::NamedTempFile::new().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        script.path(),
        "-- the seeds' read\nCREATE EXTERNAL TABLE images STORED AS BINARYFILE LOCATION '${input}'\n  OPTIONS ('pathGlobFilter' '*.jpg', 'recursiveFileLookup' 'true');\n\
         SELECT element_at(split(path, '/'), -2) AS label, count(*) AS n FROM images GROUP BY 1 ORDER BY 1;\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let input = format!("input={}", fixtures.path("fruits").display());
    let out = verger(&["sql", "--format", "csv", "--var", &input, "-f", &script.path().display().to_string()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "label,n\nApple Braeburn,2\nBanana,1\n\"Café #1 %20 [x],+\",1\nextra_level,1\nfruits,1\n");
    assert!(text(&out.stderr).contains("5 rows in"), "{}", text(&out.stderr));
}

#[test]
fn errors_are_clear_and_exit_non_zero() {
    let out = verger(&["sql", "-c", "SELECT element_at([1, 2], 0)"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("Error: ") && text(&out.stderr).contains("INVALID_INDEX_OF_ZERO"), "{}", text(&out.stderr));

    let out = verger(&["sql", "-c", "SELECT 1; SELECT nope; SELECT 3"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!text(&out.stdout).contains('3'), "stops at the first error");

    let out = verger(&["sql", "-f", "/no/such/file.sql"]);
    assert!(text(&out.stderr).contains("could not read /no/such/file.sql"), "{}", text(&out.stderr));

    let out = verger(&["sql", "-c", "SELECT '${missing}'"]);
    assert!(text(&out.stderr).contains("--var missing"), "{}", text(&out.stderr));

    let out = verger(&["sql", "--set", "verger.binary_file.max_length=-5", "-c", "SELECT 1"]);
    assert!(text(&out.stderr).contains("verger.binary_file.max_length"), "{}", text(&out.stderr));
}

#[test]
fn the_shell_reads_statements_across_lines() {
    // The shell keeps its history in $HOME: a test must never write into the user's.
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut child = Command::new(VERGER)
        .args(["sql", "--format", "csv"])
        .env("HOME", home.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    if let Some(stdin) = child.stdin.as_mut() {
        stdin.write_all(b"SELECT 40 +\n 2 AS answer;\nSELECT nope;\nSELECT 'still here' AS s;\n").unwrap_or_else(|e| panic!("{e}"));
    }
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("answer\n42\n"), "{}", text(&out.stdout));
    assert!(text(&out.stderr).contains("Error: "), "an error is reported and the shell goes on");
    assert!(text(&out.stdout).contains("still here"), "{}", text(&out.stdout));
    let history = std::fs::read_to_string(home.path().join(".verger_history")).unwrap_or_default();
    assert!(history.contains("SELECT 'still here' AS s;"), "the history is kept in HOME: {history:?}");
}

#[test]
fn gen_images_is_deterministic_and_fruits_360_like() {
    let (a, b) = (tempfile::tempdir().unwrap_or_else(|e| panic!("{e}")), tempfile::tempdir().unwrap_or_else(|e| panic!("{e}")));
    for dir in [&a, &b] {
        let out = verger(&["gen-images", "--out", &dir.path().display().to_string(), "--labels", "3", "--per-label", "2", "--seed", "7"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(text(&out.stdout).contains("wrote 6 images"), "{}", text(&out.stdout));
    }
    for relative in ["Apple Braeburn/0_100.jpg", "Apricot/1_100.jpg"] {
        let (x, y) = (std::fs::read(a.path().join(relative)), std::fs::read(b.path().join(relative)));
        assert!(x.is_ok() && x.ok() == y.ok(), "{relative} differs between runs");
    }
    let out = verger(&["gen-images", "--out", &a.path().display().to_string(), "--labels", "0"]);
    assert!(!out.status.success() && text(&out.stderr).contains("--labels must be at least 1"));
}

/// An image that cannot be read fails the query with the same message embedded and on a
/// cluster — the file, the reason, the hint — printed once.
#[test]
fn a_failed_query_reads_the_same_embedded_and_on_a_cluster() {
    let images = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(images.path().join("Apple")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(images.path().join("Apple").join("broken.jpg"), b"\xff\xd8\xff\xe0 not really a JPEG").unwrap_or_else(|e| panic!("{e}"));
    let sql = format!(
        "CREATE EXTERNAL TABLE images STORED AS BINARYFILE LOCATION '{}' OPTIONS ('recursiveFileLookup' 'true'); \
         SELECT path, image_features(content) AS f FROM images",
        images.path().display()
    );
    let embedded = verger(&["sql", "-q", "-c", &sql]);
    let cluster = crate::support::cluster::Cluster::start(2, &[]);
    let remote = verger(&["sql", "-q", "--cluster", &cluster.url(), "-c", &sql]);
    let (embedded, remote) = (text(&embedded.stderr), text(&remote.stderr));
    assert!(embedded.contains("broken.jpg"), "{embedded}");
    assert_eq!(remote, embedded, "the cluster's error reads as the embedded one");
    assert_eq!(remote.matches("broken.jpg").count(), embedded.matches("broken.jpg").count());
    assert_eq!(remote.lines().filter(|l| l.starts_with("Error: ")).count(), 1, "printed once: {remote}");

    // A scheduler that is not there, and a port that is not a scheduler's.
    let free = crate::support::free_port();
    let down = text(&verger(&["sql", "-q", "--cluster", &format!("df://127.0.0.1:{free}"), "-c", "SELECT 1"]).stderr);
    assert!(down.contains(&format!("no verger scheduler answers at df://127.0.0.1:{free}")), "{down}");
    assert!(!down.contains("tonic"), "{down}");
}

/// An executor stopped with SIGTERM leaves no shuffle file behind.
#[test]
fn an_executor_stopped_with_sigterm_removes_its_shuffle_files() {
    let images = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    verger_imagegen::generate(images.path(), 3, 4, 0).unwrap_or_else(|e| panic!("{e}"));
    let mut cluster = crate::support::cluster::Cluster::start(2, &[]);
    let sql = format!(
        "CREATE EXTERNAL TABLE images STORED AS BINARYFILE LOCATION '{}' OPTIONS ('recursiveFileLookup' 'true'); \
         SELECT element_at(split(path, '/'), -2) AS label, count(*) AS n, sum(length) AS bytes FROM images GROUP BY 1 ORDER BY 1",
        images.path().display()
    );
    let out = verger(&["sql", "-q", "--format", "csv", "--cluster", &cluster.url(), "-c", &sql]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().count(), 4, "{}", text(&out.stdout));
    let files = |dir: &std::path::Path| -> Vec<std::path::PathBuf> {
        let mut found = Vec::new();
        let mut pending = vec![dir.to_path_buf()];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                if entry.path().is_dir() { pending.push(entry.path()) } else { found.push(entry.path()) }
            }
        }
        found
    };
    let written: usize = (0..2).map(|i| files(&cluster.work_dir(i)).len()).sum();
    assert!(written > 0, "the query shuffled through the executors' work directories");
    for index in 0..2 {
        let status = cluster.terminate(&format!("executor-{index}"));
        assert!(status.is_some(), "executor-{index} did not stop on SIGTERM:\n{}", cluster.all_logs());
        let left = files(&cluster.work_dir(index));
        assert!(left.is_empty(), "executor-{index} left {left:?}");
    }
}

/// Under `verger.images.on_error = 'null'` the client says how many values became NULL and
/// names the files — the same words embedded and on a cluster, whose executors made them —
/// and leaves no report folder behind.
#[test]
fn nulls_from_bad_images_are_reported_by_the_client_embedded_and_on_a_cluster() {
    let images = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    verger_imagegen::generate(images.path(), 1, 3, 0).unwrap_or_else(|e| panic!("{e}"));
    let bad = images.path().join("Bad");
    std::fs::create_dir_all(&bad).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(bad.join("broken.jpg"), b"\xff\xd8\xff\xe0 not really a JPEG").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(bad.join("notes.png"), b"shopping list, not a picture").unwrap_or_else(|e| panic!("{e}"));
    // Over verger.binary_file.max_length: binaryFile itself gives it a NULL content.
    std::fs::write(bad.join("huge.jpg"), vec![7u8; 300_000]).unwrap_or_else(|e| panic!("{e}"));
    let materialize = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let sql = format!(
        "CREATE EXTERNAL TABLE images STORED AS BINARYFILE LOCATION '{}' OPTIONS ('recursiveFileLookup' 'true'); \
         SELECT element_at(split(path, '/'), -1) AS file, image_features(content) IS NULL AS missing FROM images ORDER BY file",
        images.path().display()
    );
    let settings = [
        "--set",
        "verger.images.on_error=null",
        "--set",
        "verger.binary_file.max_length=200000",
        "--set",
        &format!("verger.materialize.dir={}", materialize.path().display()),
    ];
    let run = |cluster: Option<&str>| {
        let mut args = vec!["sql", "-q", "--format", "csv"];
        args.extend(settings.iter().copied());
        if let Some(url) = cluster {
            args.extend(["--cluster", url]);
        }
        args.extend(["-c", &sql]);
        let out = verger(&args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        (text(&out.stdout), text(&out.stderr))
    };
    let (rows, embedded) = run(None);
    assert_eq!(rows.lines().filter(|l| l.ends_with(",true")).count(), 3, "{rows}");
    let lines: Vec<&str> = embedded.lines().collect();
    assert_eq!(lines.first().copied(), Some("3 values became NULL (verger.images.on_error = 'null'), from 3 files:"), "{embedded}");
    for (line, (file, source)) in
        lines[1..].iter().zip([("broken.jpg", "image_features"), ("huge.jpg", "binaryFile"), ("notes.png", "image_features")])
    {
        assert!(line.contains(file) && line.contains(source), "{file} by {source} expected in {line:?}:\n{embedded}");
    }
    assert_eq!(lines.len(), 4, "one line per file, nothing else: {embedded}");

    let cluster = crate::support::cluster::Cluster::start(2, &[]);
    let (remote_rows, remote) = run(Some(&cluster.url()));
    assert_eq!(remote_rows, rows);
    assert_eq!(remote, embedded, "the cluster's executors reported their NULLs to the client");
    let left: Vec<_> = std::fs::read_dir(materialize.path()).into_iter().flatten().flatten().map(|e| e.path()).collect();
    assert!(left.is_empty(), "report folders left behind: {left:?}");

    // A one-liner job that fails on the cluster after its parts are written (k above the
    // number of features): the client removes them, without waiting for their lease to expire.
    let failing = format!(
        "CREATE EXTERNAL TABLE images STORED AS BINARYFILE LOCATION '{}' OPTIONS ('recursiveFileLookup' 'true'); \
         SELECT pca(array_append([CAST(length AS DOUBLE), CAST(length % 7 AS DOUBLE)], 1.0), 9) AS p FROM images",
        images.path().display()
    );
    let set = format!("verger.materialize.dir={}", materialize.path().display());
    let out = verger(&["sql", "-q", "--set", &set, "--cluster", &cluster.url(), "-c", &failing]);
    assert!(!out.status.success() && text(&out.stderr).contains("k = 9 is more than the 3 features"), "{}", text(&out.stderr));
    let left: Vec<_> = std::fs::read_dir(materialize.path()).into_iter().flatten().flatten().map(|e| e.path()).collect();
    assert!(left.is_empty(), "the failed job's materialised parts are left: {left:?}");
}
