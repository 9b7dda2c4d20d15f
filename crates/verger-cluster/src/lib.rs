//! verger on a Ballista cluster.
//!
//! A distributed query crosses three sessions, and each must know verger's sources,
//! functions and settings:
//! - the **client** ([`remote_context`]) plans SQL and encodes the logical plan — a
//!   `BINARYFILE` table travels through [`VergerLogicalCodec`];
//! - the **scheduler** ([`scheduler_config`]) decodes it, lists the files (`scan`) and
//!   encodes one physical plan per stage — the file scan travels through
//!   [`VergerPhysicalCodec`];
//! - each **executor** ([`executor_config`]) decodes its tasks and runs them, resolving
//!   functions by name in verger's registry and S3 through the session's `s3.*` settings.

mod codec;
mod errors;
mod process;
mod shadowed;

pub use codec::{VERGER_TAG, VergerLogicalCodec, VergerPhysicalCodec};
pub use errors::job_error_message;
pub use process::{
    ExecutorOptions, SchedulerOptions, executor_config, remote_context, run_executor, run_scheduler, scheduler_config,
    verger_ballista_config,
};
