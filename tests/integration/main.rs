//! verger's integration tests: the binaryFile scan as a user runs it (embedded and on a
//! cluster of real processes), S3 through moto, the `verger` command line, and secrets.

#[path = "../support/mod.rs"]
mod support;

mod cli;
mod cluster;
mod commit;
mod features;
mod ml;
mod pipeline;
mod s3;
mod s3_settings;
mod scan;
