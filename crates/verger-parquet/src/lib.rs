//! Parquet output for verger, committed as Spark commits it.
//!
//! `COPY (query) TO 'dir' STORED AS PARQUET [OPTIONS ('mode' 'overwrite', …)]` is planned by
//! [`CommittedWriteRule`] as a distributed write: every partition is staged as one file
//! under `dir/_temporary/<job>/` by the executors ([`ParquetPartWriterExec`]); one task then
//! commits ([`ParquetCommitExec`]): the files move to `dir/part-<n>-<job>-c000.snappy.parquet`,
//! `_verger_manifest.json` is replaced by one listing them (the atomic switch), the files it
//! no longer lists are removed, and the empty `_SUCCESS` marker is written last. A job that
//! fails commits nothing; readers that follow the manifest ([`ParquetTableFactory`]) see
//! the previous output or the new one, whole, at every point of a commit.
//!
//! Modes are Spark's: `errorifexists` (the default), `overwrite` and `append`. Other
//! options are DataFusion's Parquet options (`compression`, `max_row_group_size`, …); the
//! compression defaults to snappy, as in Spark.
//!
//! [`ParquetTableFactory`] reads such directories back with `CREATE EXTERNAL TABLE`, on a
//! cluster as embedded.

pub mod codec;
mod commit;
mod error;
mod layout;
mod manifest;
mod node;
mod options;
mod planner;
mod reader;
mod writer;

pub use commit::ParquetCommitExec;
pub use error::OutputError;
pub use layout::{MANIFEST_NAME, SUCCESS_MARKER, TEMPORARY_DIR};
pub use manifest::{CommittedFile, Manifest, read_manifest};
pub use node::{COMMITTED_WRITE_RULE_NAME, CommittedWrite, CommittedWriteRule, summary_schema};
pub use options::{SaveMode, WriteOptions};
pub use planner::ParquetOutputPlanner;
pub use reader::ParquetTableFactory;
pub use writer::ParquetPartWriterExec;
