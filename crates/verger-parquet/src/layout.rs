//! Where a committed write puts its files, as Spark's FileOutputCommitter does: parts are
//! written under `<output>/_temporary/<job>/` and moved to `<output>/` at commit, under names
//! that carry the job id, then `_SUCCESS` is written last. Readers (Spark, pyarrow,
//! DataFusion) skip names starting with `_`, so nothing is visible before the commit.

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

/// True when `name` is a file a verger commit moved in (see [`committed_file_name`]):
/// `part-<n>-<32 hex digits>-c000.…`. Spark's own names carry a UUID with dashes.
pub fn is_committed_name(name: &str) -> bool {
    let mut fields = name.splitn(4, '-');
    let (Some("part"), Some(index), Some(job), Some(rest)) = (fields.next(), fields.next(), fields.next(), fields.next()) else {
        return false;
    };
    !index.is_empty()
        && index.bytes().all(|b| b.is_ascii_digit())
        && job.len() == 32
        && job.bytes().all(|b| b.is_ascii_hexdigit())
        && rest.starts_with("c000.")
}

/// True for objects under `<output>/_temporary/`.
pub fn is_staged(output: &Path, object: &Path) -> bool {
    object.prefix_match(output).and_then(|mut rest| rest.next()).is_some_and(|first| first.as_ref() == TEMPORARY_DIR)
}

/// True for objects right under `output` (not in a sub-directory).
pub fn is_top_level(output: &Path, object: &Path) -> bool {
    object.prefix_match(output).is_some_and(|rest| rest.count() == 1)
}

/// True for `_temporary/…`, `_SUCCESS` and other names readers skip.
pub fn is_hidden(output: &Path, object: &Path) -> bool {
    object.prefix_match(output).and_then(|mut rest| rest.next()).is_some_and(|first| {
        let first = first.as_ref();
        first.starts_with('_') || first.starts_with('.')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_names_are_recognised() {
        let job = "0123456789abcdef0123456789abcdef";
        assert!(is_committed_name(&committed_file_name(3, job, "snappy.parquet")));
        assert!(!is_committed_name("part-00000-1b2c3d4e-0000-4000-8000-000000000000-c000.snappy.parquet"));
        assert!(!is_committed_name("data.parquet"));
        let output = Path::from("b/out");
        assert!(is_staged(&output, &staging_dir(&output, job).join("x")));
        assert!(!is_staged(&output, &output.clone().join("part-0.parquet")));
        assert!(is_top_level(&output, &output.clone().join("part-0.parquet")));
        assert!(!is_top_level(&output, &staging_dir(&output, job).join("x")));
        assert!(!is_top_level(&output, &Path::from("b/outside")));
    }
}
