//! The files a scan reads, as Arrow batches: one partition per group of files.
//!
//! Carrying the list as an in-memory `DataSourceExec` lets every engine layer treat it as
//! data: DataFusion's codec serializes it, and Ballista gives each task exactly its own
//! partitions of it.

use crate::listing::ListedFile;
use datafusion::arrow::array::{Array, AsArray, Int64Array, RecordBatch, StringArray, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef, UInt64Type};
use datafusion::catalog::memory::MemorySourceConfig;
use datafusion::common::{Result, exec_err};
use datafusion::physical_plan::ExecutionPlan;
use std::sync::Arc;

const PATH: &str = "object_path";
const SIZE: &str = "size";
const MODIFIED: &str = "modified_micros";

/// The file-list schema for `partition_columns` partition values.
pub(crate) fn file_list_schema(partition_columns: usize) -> SchemaRef {
    let mut fields = vec![
        Field::new(PATH, DataType::Utf8, false),
        Field::new(SIZE, DataType::UInt64, false),
        Field::new(MODIFIED, DataType::Int64, false),
    ];
    fields.extend((0..partition_columns).map(|i| Field::new(format!("partition_value_{i}"), DataType::Utf8, false)));
    Arc::new(Schema::new(fields))
}

fn to_batch(files: &[ListedFile], schema: &SchemaRef, partition_columns: usize) -> Result<RecordBatch> {
    let mut columns: Vec<Arc<dyn Array>> = vec![
        Arc::new(StringArray::from_iter_values(files.iter().map(|f| f.path.as_str()))),
        Arc::new(UInt64Array::from_iter_values(files.iter().map(|f| f.size))),
        Arc::new(Int64Array::from_iter_values(files.iter().map(|f| f.modified_micros))),
    ];
    for i in 0..partition_columns {
        columns.push(Arc::new(StringArray::from_iter_values(files.iter().map(|f| f.partition_values[i].as_str()))));
    }
    Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
}

/// A leaf plan with one partition per group, each in batches of at most `batch_size` files.
pub(crate) fn file_list_exec(groups: &[Vec<ListedFile>], partition_columns: usize, batch_size: usize) -> Result<Arc<dyn ExecutionPlan>> {
    let schema = file_list_schema(partition_columns);
    let partitions = groups
        .iter()
        .map(|group| group.chunks(batch_size.max(1)).map(|chunk| to_batch(chunk, &schema, partition_columns)).collect::<Result<Vec<_>>>())
        .collect::<Result<Vec<_>>>()?;
    Ok(MemorySourceConfig::try_new_exec(&partitions, schema, None)?)
}

/// The files of one file-list batch.
pub(crate) fn from_batch(batch: &RecordBatch, partition_columns: usize) -> Result<Vec<ListedFile>> {
    if batch.num_columns() != 3 + partition_columns {
        return exec_err!("a binaryFile file list has {} columns, expected {}", batch.num_columns(), 3 + partition_columns);
    }
    let paths = batch.column(0).as_string::<i32>();
    let sizes = batch.column(1).as_primitive::<UInt64Type>();
    let modified = batch.column(2).as_primitive::<Int64Type>();
    let values: Vec<&StringArray> = (0..partition_columns).map(|i| batch.column(3 + i).as_string::<i32>()).collect();
    Ok((0..batch.num_rows())
        .map(|row| ListedFile {
            path: paths.value(row).to_owned(),
            size: sizes.value(row),
            modified_micros: modified.value(row),
            partition_values: values.iter().map(|v| v.value(row).to_owned()).collect(),
        })
        .collect())
}
