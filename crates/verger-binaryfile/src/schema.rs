use crate::partition::PartitionColumn;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use std::sync::Arc;

pub const PATH: &str = "path";
pub const MODIFICATION_TIME: &str = "modificationTime";
pub const LENGTH: &str = "length";
pub const CONTENT: &str = "content";

/// Index of `content` in every binaryFile schema.
pub const CONTENT_INDEX: usize = 3;

/// Spark's binaryFile schema (all columns nullable) followed by the partition columns.
pub fn binary_file_schema(partition_columns: &[PartitionColumn]) -> SchemaRef {
    let mut fields = vec![
        Field::new(PATH, DataType::Utf8, true),
        Field::new(MODIFICATION_TIME, DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), true),
        Field::new(LENGTH, DataType::Int64, true),
        Field::new(CONTENT, DataType::Binary, true),
    ];
    fields.extend(partition_columns.iter().map(|c| Field::new(&c.name, c.data_type.arrow_type(), true)));
    Arc::new(Schema::new(fields))
}
