//! The same queries over generated Fruits-360-like images give the same rows embedded and on
//! a cluster of one scheduler and two executors (real processes on 127.0.0.1), with the work
//! spread over both executors.

use crate::support::cluster::Cluster;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::prelude::SessionContext;

pub async fn rows(ctx: &SessionContext, sql: &str) -> String {
    let frame = ctx.sql(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    let batches = frame.collect().await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    pretty_format_batches(&batches).map(|t| t.to_string()).unwrap_or_else(|e| panic!("{e}"))
}

const QUERIES: &[&str] = &[
    "SELECT path, element_at(split(path, '/'), -2) AS label, length, sha256(content) AS digest FROM images ORDER BY path",
    "SELECT element_at(split(path, '/'), -2) AS label, count(*) AS images, sum(length) AS bytes FROM images GROUP BY 1 ORDER BY 1",
    "SELECT count(*) FROM images WHERE element_at(split(path, '/'), -1) LIKE '1_%'",
];

#[tokio::test(flavor = "multi_thread")]
async fn queries_give_the_same_rows_embedded_and_on_two_executors() {
    let images = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    verger_imagegen::generate(images.path(), 4, 6, 11).unwrap_or_else(|e| panic!("{e}"));
    let create = format!(
        "CREATE EXTERNAL TABLE images STORED AS BINARYFILE LOCATION '{}' OPTIONS ('pathGlobFilter' '*.jpg', 'recursiveFileLookup' 'true')",
        images.path().display()
    );

    let embedded = verger::session_context().unwrap_or_else(|e| panic!("{e}"));
    embedded.sql(&create).await.unwrap_or_else(|e| panic!("{e}"));

    let cluster = Cluster::start(2, &[]);
    let remote = verger_cluster::remote_context(&cluster.url()).await.unwrap_or_else(|e| panic!("{e}"));
    remote.sql("SET datafusion.execution.target_partitions = 4").await.unwrap_or_else(|e| panic!("{e}"));
    remote.sql(&create).await.unwrap_or_else(|e| panic!("{e}"));

    for query in QUERIES {
        let expected = rows(&embedded, query).await;
        let actual = rows(&remote, query).await;
        assert_eq!(actual, expected, "{query}\n{}", cluster.all_logs());
    }
    let labels = rows(&remote, QUERIES[1]).await;
    assert!(labels.contains("Apple Braeburn") && labels.contains("| 6 "), "{labels}");

    for executor in ["executor-0", "executor-1"] {
        assert!(cluster.log(executor).contains("Execute task"), "{executor} ran no task:\n{}", cluster.all_logs());
    }
    // The scan was planned on the scheduler, which listed the files.
    assert!(cluster.log("scheduler").contains("BinaryFileScanExec"), "{}", cluster.log("scheduler"));
}
