//! Reading Parquet directories back, on every process of a cluster.
//!
//! For `CREATE EXTERNAL TABLE … STORED AS PARQUET LOCATION 'dir/'` DataFusion lists
//! `dir/*.parquet` through a glob, which leaves `_SUCCESS`, `_verger_manifest.json` and
//! `_temporary/` alone. A cluster loses that glob on the way to the scheduler (the plan
//! carries the directory only) and the table there reads every file of the directory —
//! the manifest included, which fails as a corrupt Parquet footer. [`ParquetTableFactory`]
//! gives such tables the `.parquet` extension filter, which does travel (DataFusion leaves
//! it empty for directories), and lists a directory named without a trailing `/` the same
//! way.
//!
//! A directory that verger committed holds a manifest: the table then reads exactly the
//! files it lists, so that it sees a whole output even while a commit is replacing it (old
//! and new files side by side, see [`crate::ParquetCommitExec`]). The files are those of
//! the manifest when the table is created, as Spark's file index keeps a listing until the
//! table is refreshed: create the table again after the output is rewritten.

use crate::error::plan_error;
use crate::manifest::read_manifest;
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider, TableProviderFactory};
use datafusion::common::Result;
use datafusion::datasource::listing::{ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::datasource::provider::DefaultTableFactory;
use datafusion::logical_expr::CreateExternalTable;
use std::sync::Arc;

/// DataFusion's Parquet table factory, with `dir/*.parquet` for a directory location.
#[derive(Debug, Default)]
pub struct ParquetTableFactory {
    datafusion: DefaultTableFactory,
}

/// `dir/*.parquet` when `location` names a directory (ends with `/` or has no extension)
/// without a glob of its own.
fn parquet_files_of(location: &str) -> Option<String> {
    if location.contains(['*', '?', '[']) {
        return None;
    }
    let trimmed = location.trim_end_matches('/');
    let last = trimmed.rsplit('/').next().unwrap_or(trimmed);
    (location.ends_with('/') || !last.contains('.')).then(|| format!("{trimmed}/*.parquet"))
}

/// `table`'s listing, over `paths` instead of its own, with `extension` when it has none.
fn relisted(
    state: &dyn Session,
    cmd: &CreateExternalTable,
    listing: &ListingTable,
    paths: Vec<ListingTableUrl>,
    extension: &str,
) -> Result<Arc<dyn TableProvider>> {
    let mut options = listing.options().clone();
    if options.file_extension.is_empty() {
        options = options.with_file_extension(extension);
    }
    let config = ListingTableConfig::new_with_multi_paths(paths).with_listing_options(options).with_schema(listing.schema());
    let rebuilt = ListingTable::try_new(config)?
        .with_cache(state.runtime_env().cache_manager.get_file_statistic_cache())
        .with_definition(cmd.definition.clone())
        .with_constraints(cmd.constraints.clone())
        .with_column_defaults(cmd.column_defaults.clone());
    Ok(Arc::new(rebuilt))
}

impl ParquetTableFactory {
    /// The table of the files `directory`'s manifest lists; `None` when it has no manifest.
    async fn committed_table(
        &self,
        state: &dyn Session,
        cmd: &CreateExternalTable,
        directory: &str,
    ) -> Result<Option<Arc<dyn TableProvider>>> {
        let url = ListingTableUrl::parse(format!("{}/", directory.trim_end_matches('/')))?;
        let store = state.runtime_env().object_store(url.object_store())?;
        let Some(manifest) = read_manifest(store.as_ref(), url.prefix()).await? else {
            return Ok(None);
        };
        if manifest.files.is_empty() {
            return Err(plan_error(
                directory,
                "the output holds no committed files yet: its first commit is under way or was interrupted; \
                 run the job that writes it again",
            ));
        }
        let mut paths = Vec::with_capacity(manifest.files.len());
        for file in &manifest.files {
            let mut file_url = url.get_url().clone();
            // Pushing a segment percent-encodes the name, whatever characters it holds.
            file_url.path_segments_mut().map_err(|()| plan_error(directory, "not a directory URL"))?.pop_if_empty().push(&file.name);
            paths.push(ListingTableUrl::try_new(file_url, None)?);
        }
        // DataFusion's table of the first file gives the schema and the options.
        let first = CreateExternalTable { locations: vec![paths[0].to_string()], ..cmd.clone() };
        let table = self.datafusion.create(state, &first).await?;
        let Some(listing) = table.downcast_ref::<ListingTable>() else {
            return Ok(Some(table));
        };
        relisted(state, cmd, listing, paths, ".parquet").map(Some)
    }
}

#[async_trait]
impl TableProviderFactory for ParquetTableFactory {
    async fn create(&self, state: &dyn Session, cmd: &CreateExternalTable) -> Result<Arc<dyn TableProvider>> {
        let directory = match cmd.locations.as_slice() {
            [location] if cmd.table_partition_cols.is_empty() && cmd.file_type.eq_ignore_ascii_case("parquet") => {
                parquet_files_of(location).map(|files| (location, files))
            }
            _ => None,
        };
        let Some((location, files)) = directory else {
            return self.datafusion.create(state, cmd).await;
        };
        if let Some(table) = self.committed_table(state, cmd, location).await? {
            return Ok(table);
        }
        let cmd = CreateExternalTable { locations: vec![files], ..cmd.clone() };
        let table = self.datafusion.create(state, &cmd).await?;
        let Some(listing) = table.downcast_ref::<ListingTable>() else {
            return Ok(table);
        };
        if !listing.options().file_extension.is_empty() {
            return Ok(table);
        }
        // The same table as DataFusion's factory builds, with the extension filter.
        relisted(state, &cmd, listing, listing.table_paths().clone(), ".parquet")
    }
}

#[cfg(test)]
mod tests {
    use super::parquet_files_of;

    #[test]
    fn directories_get_the_parquet_glob() {
        assert_eq!(parquet_files_of("s3://b/out/").as_deref(), Some("s3://b/out/*.parquet"));
        assert_eq!(parquet_files_of("/data/fruits_pca").as_deref(), Some("/data/fruits_pca/*.parquet"));
        assert_eq!(parquet_files_of("/data/one.parquet"), None);
        // Spark names output directories out.parquet: DataFusion's extension filter covers them.
        assert_eq!(parquet_files_of("/data/out.parquet/"), Some("/data/out.parquet/*.parquet".to_owned()));
        assert_eq!(parquet_files_of("/data/*.parquet"), None);
    }
}
