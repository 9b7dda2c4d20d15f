//! Where a committed write puts its files, as Spark's FileOutputCommitter does: parts are
//! written under `<output>/_temporary/<job>/` and moved to `<output>/` at commit, then
//! `_SUCCESS` is written last. Readers (Spark, pyarrow, DataFusion) skip names starting
//! with `_`, so nothing is visible before the commit.

use object_store::path::Path;

pub const TEMPORARY_DIR: &str = "_temporary";
/// Spark's marker of a complete output: empty, written last.
pub const SUCCESS_MARKER: &str = "_SUCCESS";
/// verger's record of the last commit: its files, rows and times (see [`crate::Manifest`]).
pub const MANIFEST_NAME: &str = "_verger_manifest.json";

pub fn staging_dir(output: &Path, job_id: &str) -> Path {
    output.clone().join(TEMPORARY_DIR).join(job_id)
}

/// The name of a task attempt's file while staged: unique per attempt, so a retried task
/// never overwrites the file of the attempt that succeeded. It does not end in `.parquet`,
/// so that readers filtering on the extension (a cluster's tables) never take a file a
/// failed job left behind.
pub fn staged_file_name(partition: usize, attempt: &str, suffix: &str) -> String {
    format!("part-{partition:05}-{attempt}.{suffix}.staged")
}

/// The committed name of the `index`-th file of job `job_id`, in Spark's pattern.
pub fn committed_file_name(index: usize, job_id: &str, suffix: &str) -> String {
    format!("part-{index:05}-{job_id}-c000.{suffix}")
}

/// True for `_temporary/…`, `_SUCCESS` and other names readers skip.
pub fn is_hidden(output: &Path, object: &Path) -> bool {
    object.prefix_match(output).and_then(|mut rest| rest.next()).is_some_and(|first| {
        let first = first.as_ref();
        first.starts_with('_') || first.starts_with('.')
    })
}
