//! The fuzz target's parts: a counting allocator, the seed corpus, the generated cases and
//! the properties they must keep.

pub mod alloc;
pub mod case;
pub mod check;
pub mod corpus;
pub mod images;

use std::sync::{Mutex, MutexGuard};

/// Held by each test of the binary, so that allocations are measured one test at a time.
pub fn exclusive() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
