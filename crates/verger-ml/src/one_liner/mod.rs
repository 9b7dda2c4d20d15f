//! One-liners: `pca(features [, k])` and `standardize(features [, with_mean, with_std])` —
//! a fit over every row of the SELECT and its transform, planned as a distributed two-phase aggregate whose model is broadcast.

pub mod codec;
mod explained;
mod functions;
mod lease;
mod materialize;
mod planner;
mod read;
mod release;
mod rule;

pub use explained::PcaExplainedVariance;
pub use functions::{
    BROADCAST_KEY, BROADCAST_MODEL, BroadcastKey, BroadcastModel, DEFAULT_PCA_VARIANCE, ONE_LINERS, OneLinerFunction, OneLinerSpec, PCA,
    PCA_EXPLAINED_VARIANCE, STANDARDIZE,
};
pub use lease::{HEARTBEAT, STALE_AFTER};
pub use materialize::{MaterializeWrite, MaterializeWriteExec};
pub use planner::MaterializePlanner;
pub use read::{MaterializeRead, MaterializeReadExec};
pub use release::{MaterializeRelease, MaterializeReleaseExec, release_failed_query};
pub use rule::{FIT_TRANSFORM_RULE_NAME, FitTransformRule, calls_one_liner};
