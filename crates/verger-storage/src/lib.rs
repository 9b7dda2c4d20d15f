//! Object stores for verger.
//!
//! Every verger source resolves its files through this crate, in every process of a cluster:
//! a [`StorageLocation`] names a local directory or an S3 prefix exactly as the user wrote it,
//! and [`object_store_for`] returns the store for it, configured from the session's `s3.*`
//! settings ([`S3Options`]), then the process environment (`AWS_*` variables), then an AWS
//! profile file, then the instance role — the standard AWS credential order.
//! [`VergerObjectStoreRegistry`] serves DataFusion's own readers and writers (Parquet, CSV,
//! JSON, `COPY`) the same stores, for the settings of the session it belongs to.
//!
//! Secrets set anywhere ([`Secret`]) are remembered so that [`redact`] can blank them out of
//! any text before it reaches a log or an error message.

mod error;
mod location;
mod null_report;
mod profile;
mod registry;
mod s3;
mod secret;

pub use error::StorageError;
pub use location::{Scheme, StorageLocation};
pub use null_report::{NAMED_FILES, NullReport, NullRow, NullSummary, report_nulls};
pub use registry::{VergerObjectStoreRegistry, object_store_for};
pub use s3::S3Options;
pub use secret::{Secret, redact, redact_log_line, register_secret, register_secrets_from_env};
