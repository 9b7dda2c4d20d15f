//! Lists the files of a binaryFile location with Spark's rules: hidden names skipped,
//! 0-byte files dropped, `pathGlobFilter` on the file name, `modifiedBefore/After`, and —
//! without `recursiveFileLookup` — partition discovery over `key=value` directories.
//! One pass over the object listing: linear in the number of objects.

use crate::partition::{self, PartitionColumn};
use crate::{BinaryFileError, BinaryFileOptions};
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use std::collections::{BTreeMap, BTreeSet};
use verger_storage::{Scheme, StorageLocation};

/// One file that yields a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedFile {
    /// Object path in its store (key, or absolute path without the leading `/`).
    pub path: String,
    pub size: u64,
    /// Modification time, microseconds since the epoch, at millisecond precision.
    pub modified_micros: i64,
    /// Raw directory values of the partition columns, in column order.
    pub partition_values: Vec<String>,
}

/// The files of a location and the partition columns discovered for them.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    pub files: Vec<ListedFile>,
    pub partition_columns: Vec<PartitionColumn>,
}

/// Spark's `shouldFilterOutPathName`: names starting with `_` (unless they hold `=`) or `.`,
/// and files still being copied, are not data.
pub(crate) fn is_hidden(name: &str) -> bool {
    let excluded = (name.starts_with('_') && !name.contains('=')) || name.starts_with('.') || name.ends_with("._COPYING_");
    let metadata = name.starts_with("_common_metadata") || name.starts_with("_metadata");
    excluded && !metadata
}

struct Candidate {
    dirs: Vec<String>,
    file: ListedFile,
}

/// Lists `location` with `options`; `time_zone` is the session's, for `modifiedBefore/After`.
pub async fn list_files(
    store: &dyn ObjectStore,
    location: &StorageLocation,
    options: &BinaryFileOptions,
    time_zone: Option<&str>,
) -> Result<Listing, BinaryFileError> {
    let glob = options.glob()?;
    let (modified_after, modified_before) = options.modified_range(time_zone)?;
    let root = location.object_path();
    let list_error = |source| BinaryFileError::List { location: location.to_string(), source };

    let mut objects: Vec<object_store::ObjectMeta> = store.list(Some(&root)).try_collect().await.map_err(list_error)?;
    let mut single_file = false;
    if objects.is_empty() {
        match store.head(&root).await {
            Ok(meta) => {
                objects.push(meta);
                single_file = true;
            }
            Err(object_store::Error::NotFound { .. }) => {
                if !local_directory_exists(location) {
                    return Err(BinaryFileError::PathNotFound(location.to_string()));
                }
            }
            Err(source) => return Err(list_error(source)),
        }
    }

    let mut candidates = Vec::with_capacity(objects.len());
    for meta in objects {
        let relative: Vec<String> = if single_file {
            vec![meta.location.filename().unwrap_or_default().to_owned()]
        } else {
            match meta.location.prefix_match(&root) {
                Some(parts) => parts.map(|p| p.as_ref().to_owned()).collect(),
                None => continue,
            }
        };
        let Some((file_name, dirs)) = relative.split_last() else { continue };
        if !single_file && relative.iter().any(|part| is_hidden(part)) {
            continue;
        }
        if meta.size == 0 {
            continue;
        }
        if glob.as_ref().is_some_and(|g| !g.matches(file_name)) {
            continue;
        }
        // Spark keeps file times at millisecond precision.
        let modified_micros = meta.last_modified.timestamp_millis() * 1000;
        if modified_after.is_some_and(|after| modified_micros <= after) || modified_before.is_some_and(|before| modified_micros >= before) {
            continue;
        }
        candidates.push(Candidate {
            dirs: dirs.to_vec(),
            file: ListedFile { path: meta.location.to_string(), size: meta.size, modified_micros, partition_values: vec![] },
        });
    }

    if options.recursive_file_lookup || single_file {
        return Ok(Listing { files: candidates.into_iter().map(|c| c.file).collect(), partition_columns: vec![] });
    }
    discover_partitions(location, candidates)
}

fn local_directory_exists(location: &StorageLocation) -> bool {
    matches!(location.scheme(), Scheme::Local) && std::path::Path::new(&format!("/{}", location.object_path())).is_dir()
}

/// What Spark's `parsePartition` finds for one leaf directory.
struct LeafPartition {
    /// `(name, raw value)` pairs, top-down; empty when the leaf is not a partition.
    columns: Vec<(String, String)>,
    /// Number of leading components forming the discovered base path.
    base_len: usize,
}

fn parse_leaf(dirs: &[String]) -> Result<LeafPartition, BinaryFileError> {
    let mut current = dirs.len();
    let mut columns = Vec::new();
    while current > 0 {
        let column = partition::parse_column(&dirs[current - 1])?;
        let found = column.is_some();
        columns.extend(column);
        current -= 1;
        if !found && !columns.is_empty() {
            break;
        }
    }
    if columns.is_empty() {
        return Ok(LeafPartition { columns, base_len: dirs.len() });
    }
    columns.reverse();
    Ok(LeafPartition { columns, base_len: current })
}

fn discover_partitions(location: &StorageLocation, candidates: Vec<Candidate>) -> Result<Listing, BinaryFileError> {
    let mut parsed: BTreeMap<Vec<String>, LeafPartition> = BTreeMap::new();
    for candidate in &candidates {
        if !parsed.contains_key(&candidate.dirs) {
            parsed.insert(candidate.dirs.clone(), parse_leaf(&candidate.dirs)?);
        }
    }

    if parsed.values().all(|leaf| leaf.columns.is_empty()) {
        // Not partitioned: Spark reads only the files directly under the root.
        let files = candidates.into_iter().filter(|c| c.dirs.is_empty()).map(|c| c.file).collect();
        return Ok(Listing { files, partition_columns: vec![] });
    }

    let display = |dirs: &[String]| {
        let root = location.object_path();
        let joined = dirs.iter().fold(root, |path, part| path.clone().join(part.as_str()));
        location.spark_path(&joined)
    };
    let bases: BTreeSet<String> = parsed.iter().map(|(dirs, leaf)| display(&dirs[..leaf.base_len]).to_lowercase()).collect();
    if bases.len() > 1 {
        return Err(BinaryFileError::ConflictingDirectoryStructures(bases.into_iter().collect()));
    }

    let names: BTreeSet<Vec<String>> = parsed
        .values()
        .filter(|leaf| !leaf.columns.is_empty())
        .map(|leaf| leaf.columns.iter().map(|(name, _)| name.to_lowercase()).collect())
        .collect();
    if names.len() > 1 {
        let listed = parsed
            .iter()
            .filter(|(_, leaf)| !leaf.columns.is_empty())
            .map(|(dirs, leaf)| {
                let columns: Vec<&str> = leaf.columns.iter().map(|(n, _)| n.as_str()).collect();
                format!("Partition column name list: {} ({})", columns.join(", "), display(dirs))
            })
            .collect();
        return Err(BinaryFileError::ConflictingPartitionColumns(listed));
    }

    let first = parsed.values().find(|leaf| !leaf.columns.is_empty());
    let column_names: Vec<String> = first.map(|leaf| leaf.columns.iter().map(|(n, _)| n.clone()).collect()).unwrap_or_default();

    let mut files = Vec::with_capacity(candidates.len());
    for mut candidate in candidates {
        let Some(leaf) = parsed.get(candidate.dirs.as_slice()) else { continue };
        if leaf.columns.is_empty() {
            continue;
        }
        candidate.file.partition_values = leaf.columns.iter().map(|(_, value)| value.clone()).collect();
        files.push(candidate.file);
    }
    let partition_columns = column_names
        .into_iter()
        .enumerate()
        .map(|(i, name)| PartitionColumn {
            data_type: partition::infer_column_type(files.iter().map(|f| f.partition_values[i].as_str())),
            name,
        })
        .collect();
    Ok(Listing { files, partition_columns })
}

/// The store path of a listed file.
pub(crate) fn object_path(file: &ListedFile) -> Path {
    Path::parse(&file.path).unwrap_or_else(|_| Path::from_iter(file.path.split('/')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_names_follow_spark() {
        for name in [".DS_Store", "_SUCCESS", "_temporary", ".hidden.jpg", "x.jpg._COPYING_"] {
            assert!(is_hidden(name), "{name}");
        }
        for name in ["a.jpg", "_label=x", "_metadata", "x_.jpg"] {
            assert!(!is_hidden(name), "{name}");
        }
    }

    #[test]
    fn leaves_are_parsed_like_spark() -> Result<(), BinaryFileError> {
        let dirs = |s: &str| s.split('/').filter(|p| !p.is_empty()).map(str::to_owned).collect::<Vec<_>>();
        let leaf = parse_leaf(&dirs("year=2024/Apple"))?;
        assert_eq!((leaf.columns, leaf.base_len), (vec![("year".to_owned(), "2024".to_owned())], 0));
        let leaf = parse_leaf(&dirs("x/year=2024"))?;
        assert_eq!(leaf.base_len, 0);
        let leaf = parse_leaf(&dirs("a/b/year=2024"))?;
        assert_eq!(leaf.base_len, 1);
        let leaf = parse_leaf(&dirs("Apple"))?;
        assert_eq!((leaf.columns.len(), leaf.base_len), (0, 1));
        Ok(())
    }
}
