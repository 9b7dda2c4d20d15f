//! The C allocator's settings for verger's own processes (`verger sql`, scheduler, executor).
//!
//! glibc raises its mmap threshold each time a large block is freed, up to 32 MB; blocks
//! below it then come from per-thread arenas, which keep freed memory instead of returning
//! it. A pipeline hands MB-sized Arrow and IPC buffers from one thread to another for hours,
//! and its RSS crept with the number of photos (522 MiB at 1,000, 705 MiB at 100,000).
//! A fixed threshold of 1 MiB returns those buffers to the system when freed; the cost, a
//! fresh mapping per MB-sized buffer, did not show in the benchmark.
//!
//! Embedding verger as a library leaves the allocator alone: that is the host's choice.

/// The size from which glibc serves an allocation with its own mapping.
const MMAP_THRESHOLD: i32 = 1 << 20;

/// Fixes glibc's mmap threshold, unless the user set one (`MALLOC_MMAP_THRESHOLD_` or
/// `GLIBC_TUNABLES=glibc.malloc.mmap_threshold=…`). Other C libraries are left alone.
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let user_set = std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_some()
            || std::env::var("GLIBC_TUNABLES").is_ok_and(|tunables| tunables.contains("mmap_threshold"));
        if !user_set {
            // SAFETY: mallopt only changes the allocator's parameters; it is called before
            // any other thread of this process starts.
            let accepted = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) };
            if accepted != 1 {
                log::debug!("glibc refused mmap_threshold = {MMAP_THRESHOLD}");
            }
        }
    }
}
