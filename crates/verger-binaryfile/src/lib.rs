//! Spark's `binaryFile` data source for DataFusion, over object_store (local files and S3).
//!
//! ```sql
//! CREATE EXTERNAL TABLE images STORED AS BINARYFILE LOCATION 's3://bucket/fruits/'
//! OPTIONS ('pathGlobFilter' '*.jpg', 'recursiveFileLookup' 'true');
//! ```
//!
//! Rows carry `path` (Spark's spelling: `file:/abs/x.jpg`, `s3://bucket/key`, never
//! percent-encoded), `modificationTime`, `length` and `content`, plus partition columns for
//! `key=value` directories. See [`BinaryFileOptions`] for the options and the crate README for
//! where verger deliberately differs from Spark.

mod codec;
mod error;
mod exec;
mod factory;
mod file_list;
mod glob;
mod listing;
mod options;
mod partition;
mod progress;
mod schema;
mod table;

pub use codec::BinaryFileCodec;
pub use error::BinaryFileError;
pub use exec::BinaryFileScanExec;
pub use factory::{BINARY_FILE_FORMAT, BinaryFileTableFactory};
pub use listing::{ListedFile, Listing, list_files};
pub use options::BinaryFileOptions;
pub use partition::{PartitionColumn, PartitionType};
pub use progress::ScanProgress;
pub use schema::{CONTENT, LENGTH, MODIFICATION_TIME, PATH, binary_file_schema};
pub use table::BinaryFileTable;
