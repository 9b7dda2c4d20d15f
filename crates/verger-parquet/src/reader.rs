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

use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider, TableProviderFactory};
use datafusion::common::Result;
use datafusion::datasource::listing::{ListingTable, ListingTableConfig};
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

#[async_trait]
impl TableProviderFactory for ParquetTableFactory {
    async fn create(&self, state: &dyn Session, cmd: &CreateExternalTable) -> Result<Arc<dyn TableProvider>> {
        let directory = match cmd.locations.as_slice() {
            [location] if cmd.table_partition_cols.is_empty() && cmd.file_type.eq_ignore_ascii_case("parquet") => {
                parquet_files_of(location)
            }
            _ => None,
        };
        let Some(files) = directory else {
            return self.datafusion.create(state, cmd).await;
        };
        let cmd = CreateExternalTable { locations: vec![files], ..cmd.clone() };
        let table = self.datafusion.create(state, &cmd).await?;
        let Some(listing) = table.downcast_ref::<ListingTable>() else {
            return Ok(table);
        };
        if !listing.options().file_extension.is_empty() {
            return Ok(table);
        }
        // The same table as DataFusion's factory builds, with the extension filter.
        let options = listing.options().clone().with_file_extension(".parquet");
        let config = ListingTableConfig::new_with_multi_paths(listing.table_paths().clone())
            .with_listing_options(options)
            .with_schema(listing.schema());
        let rebuilt = ListingTable::try_new(config)?
            .with_cache(state.runtime_env().cache_manager.get_file_statistic_cache())
            .with_definition(cmd.definition.clone())
            .with_constraints(cmd.constraints.clone())
            .with_column_defaults(cmd.column_defaults.clone());
        Ok(Arc::new(rebuilt))
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
