use crate::{BinaryFileOptions, BinaryFileTable};
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider, TableProviderFactory};
use datafusion::common::plan_err;
use datafusion::error::Result;
use datafusion::logical_expr::CreateExternalTable;
use std::sync::Arc;

/// `CREATE EXTERNAL TABLE t STORED AS BINARYFILE LOCATION '...' OPTIONS (...)`.
///
/// Register under the file type `BINARYFILE`. The columns are Spark's fixed binaryFile
/// schema plus discovered partition columns, so the statement lists none.
#[derive(Debug, Default)]
pub struct BinaryFileTableFactory;

/// The `STORED AS` name of the binaryFile format.
pub const BINARY_FILE_FORMAT: &str = "BINARYFILE";

#[async_trait]
impl TableProviderFactory for BinaryFileTableFactory {
    async fn create(&self, state: &dyn Session, cmd: &CreateExternalTable) -> Result<Arc<dyn TableProvider>> {
        if !cmd.schema.fields().is_empty() {
            return plan_err!(
                "a BINARYFILE table has Spark's fixed schema (path, modificationTime, length, content and partition columns): remove the column list from CREATE EXTERNAL TABLE {}",
                cmd.name
            );
        }
        if !cmd.table_partition_cols.is_empty() {
            return plan_err!("PARTITIONED BY is not supported for BINARYFILE tables: key=value directories are discovered");
        }
        let [location] = cmd.locations.as_slice() else {
            return plan_err!(
                "a BINARYFILE table reads one LOCATION, got {}: create one table per location and UNION ALL them",
                cmd.locations.len()
            );
        };
        let options = BinaryFileOptions::from_map(&cmd.options)?;
        Ok(Arc::new(BinaryFileTable::try_new(state, location, options).await?))
    }
}
