//! The inference thread pool: one thread per core, each with its own ONNX Runtime session
//! of every model it runs, one intra-op thread each (measured faster on this machine class
//! than ORT's own threading: shared/model.md). Images are decoded on the same threads, so
//! nothing else competes for the cores.

use crate::error::{FeaturesError, Result};
use rayon::{ThreadPool, ThreadPoolBuilder};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Environment variable overriding the number of inference threads of a process.
pub const THREADS_ENV: &str = "VERGER_INFERENCE_THREADS";

static REQUESTED: AtomicUsize = AtomicUsize::new(0);
static POOL: OnceLock<std::result::Result<ThreadPool, String>> = OnceLock::new();

/// Sets this process's number of inference threads (an executor passes its task slots).
/// Has no effect once the pool has started.
pub fn set_inference_threads(threads: usize) {
    REQUESTED.store(threads, Ordering::Relaxed);
}

/// The number of inference threads: `VERGER_INFERENCE_THREADS`, else what was set, else the cores.
pub fn inference_threads() -> usize {
    if let Some(threads) = std::env::var(THREADS_ENV).ok().and_then(|v| v.trim().parse::<usize>().ok()).filter(|n| *n > 0) {
        return threads;
    }
    match REQUESTED.load(Ordering::Relaxed) {
        0 => std::thread::available_parallelism().map(usize::from).unwrap_or(1),
        n => n,
    }
}

/// The process's inference threads (started on first use).
pub fn inference_pool() -> Result<&'static ThreadPool> {
    POOL.get_or_init(|| {
        ThreadPoolBuilder::new()
            .num_threads(inference_threads())
            .thread_name(|i| format!("verger-inference-{i}"))
            .build()
            .map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(|e| FeaturesError::Runtime(format!("cannot start the inference threads: {e}")))
}
