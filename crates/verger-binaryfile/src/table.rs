use crate::BinaryFileOptions;
use crate::exec::{BatchBuilder, BinaryFileScanExec, FileRow};
use crate::file_list::file_list_exec;
use crate::listing::{ListedFile, list_files};
use crate::partition::PartitionColumn;
use crate::schema::{CONTENT, binary_file_schema};
use async_trait::async_trait;
use datafusion::arrow::array::{Array, BooleanArray, RecordBatch};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{DFSchema, exec_err, plan_err};
use datafusion::datasource::TableType;
use datafusion::error::Result;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use std::collections::BinaryHeap;
use std::sync::Arc;
use verger_storage::{StorageLocation, object_store_for};

/// Spark's `binaryFile` data source as a DataFusion table: one row per file, with `path`,
/// `modificationTime`, `length`, `content` and any `key=value` partition columns.
///
/// The files are listed when the query is planned (on the scheduler, in a cluster), pruned
/// by filters on the metadata columns and `LIMIT`, then spread over partitions by size;
/// `content` is read by the executors, and only when the query uses it.
#[derive(Debug, Clone)]
pub struct BinaryFileTable {
    location: StorageLocation,
    options: BinaryFileOptions,
    partition_columns: Vec<PartitionColumn>,
    schema: SchemaRef,
}

impl BinaryFileTable {
    /// Opens `location` (a local path, `file:` URL, `s3://` or `s3a://` prefix), discovering
    /// partition columns unless `recursiveFileLookup` is set.
    pub async fn try_new(session: &dyn Session, location: &str, options: BinaryFileOptions) -> Result<Self> {
        options.validate()?;
        let location = StorageLocation::parse(location)?;
        let partition_columns = if options.recursive_file_lookup {
            vec![]
        } else {
            let store = object_store_for(&location, session.config_options())?;
            let time_zone = session.config_options().execution.time_zone.clone();
            list_files(store.as_ref(), &location, &options, time_zone.as_deref()).await?.partition_columns
        };
        Ok(Self::from_parts(location, options, partition_columns))
    }

    /// Rebuilds a table from its parts, as decoded on another process of a cluster.
    pub fn from_parts(location: StorageLocation, options: BinaryFileOptions, partition_columns: Vec<PartitionColumn>) -> Self {
        let schema = binary_file_schema(&partition_columns);
        Self { location, options, partition_columns, schema }
    }

    pub fn location(&self) -> &StorageLocation {
        &self.location
    }

    pub fn options(&self) -> &BinaryFileOptions {
        &self.options
    }

    pub fn partition_columns(&self) -> &[PartitionColumn] {
        &self.partition_columns
    }

    /// Keeps the files for which every pushed-down filter holds, judged on their metadata
    /// (no content is read).
    fn prune(&self, session: &dyn Session, files: Vec<ListedFile>, filters: &[Expr]) -> Result<Vec<ListedFile>> {
        if filters.is_empty() || files.is_empty() {
            return Ok(files);
        }
        let time_zone = session.config_options().execution.time_zone.clone();
        let metadata = self.metadata_batch(&files, time_zone.as_deref())?;
        let df_schema = DFSchema::try_from(Arc::clone(&self.schema))?;
        let mut keep = BooleanArray::from(vec![true; files.len()]);
        for filter in filters {
            let predicate = session.create_physical_expr(filter.clone(), &df_schema)?;
            let result = predicate.evaluate(&metadata)?.into_array(files.len())?;
            let Some(result) = result.as_any().downcast_ref::<BooleanArray>() else {
                return exec_err!("filter {filter} did not evaluate to a boolean");
            };
            // NULL counts as false, as in a WHERE clause.
            let result = match result.nulls() {
                Some(nulls) => BooleanArray::new(result.values() & nulls.inner(), None),
                None => result.clone(),
            };
            keep = datafusion::arrow::compute::and(&keep, &result)?;
        }
        Ok(files.into_iter().zip(keep.iter()).filter_map(|(file, keep)| keep.unwrap_or(false).then_some(file)).collect())
    }

    fn metadata_batch(&self, files: &[ListedFile], time_zone: Option<&str>) -> Result<RecordBatch> {
        let all_columns = (0..self.schema.fields().len()).collect();
        let builder = BatchBuilder::new(self.location.clone(), self.partition_columns.clone(), all_columns, time_zone.map(str::to_owned))?;
        let rows: Vec<FileRow> = files.iter().map(|file| FileRow { file: file.clone(), content: None }).collect();
        builder.build(&rows)
    }
}

/// Spreads files over `partitions` groups of similar total size (largest first, each to the
/// lightest group), so that every core and executor reads about as much.
pub(crate) fn balance(mut files: Vec<ListedFile>, partitions: usize) -> Vec<Vec<ListedFile>> {
    let partitions = partitions.clamp(1, files.len().max(1));
    files.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.path.cmp(&b.path)));
    let mut groups: Vec<Vec<ListedFile>> = vec![Vec::new(); partitions];
    let mut load: BinaryHeap<std::cmp::Reverse<(u64, usize)>> = (0..partitions).map(|i| std::cmp::Reverse((0, i))).collect();
    for file in files {
        let Some(std::cmp::Reverse((bytes, index))) = load.pop() else { break };
        load.push(std::cmp::Reverse((bytes + file.size, index)));
        groups[index].push(file);
    }
    groups
}

#[async_trait]
impl TableProvider for BinaryFileTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|filter| {
                let on_metadata = filter.column_refs().iter().all(|c| c.name != CONTENT);
                if on_metadata && !filter.is_volatile() {
                    // Applied to the listing; DataFusion keeps its own filter above the scan.
                    TableProviderFilterPushDown::Inexact
                } else {
                    TableProviderFilterPushDown::Unsupported
                }
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let store = object_store_for(&self.location, state.config_options())?;
        let time_zone = state.config_options().execution.time_zone.clone();
        let listing = list_files(store.as_ref(), &self.location, &self.options, time_zone.as_deref()).await?;
        if listing.partition_columns.iter().map(|c| &c.name).ne(self.partition_columns.iter().map(|c| &c.name)) {
            return plan_err!("the partition directories of {} changed since the table was created; create the table again", self.location);
        }
        let mut files = self.prune(state, listing.files, filters)?;
        if let Some(limit) = limit {
            files.truncate(limit);
        }
        let projection = projection.cloned().unwrap_or_else(|| (0..self.schema.fields().len()).collect());
        let groups = balance(files, state.config().target_partitions());
        let file_list = file_list_exec(&groups, self.partition_columns.len(), state.config().batch_size())?;
        Ok(Arc::new(BinaryFileScanExec::try_new(self.location.clone(), self.partition_columns.clone(), projection, file_list)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_balanced_by_size() {
        let file = |path: &str, size| ListedFile { path: path.into(), size, modified_micros: 0, partition_values: vec![] };
        let groups = balance(vec![file("a", 10), file("b", 7), file("c", 5), file("d", 3), file("e", 1)], 2);
        let sizes: Vec<u64> = groups.iter().map(|g| g.iter().map(|f| f.size).sum()).collect();
        assert_eq!(sizes, vec![13, 13]);
        assert_eq!(balance(vec![file("a", 1)], 8).len(), 1);
        assert_eq!(balance(vec![], 8).len(), 1);
    }
}
