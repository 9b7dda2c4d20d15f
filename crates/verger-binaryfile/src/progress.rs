use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of the binaryFile scans of an embedded session, for progress displays.
///
/// Install with `SessionConfig::with_extension(Arc::new(ScanProgress::default()))`; scans
/// running in this process add to it. Executors of a cluster have none, and count nothing.
#[derive(Debug, Default)]
pub struct ScanProgress {
    files: AtomicU64,
    bytes: AtomicU64,
}

impl ScanProgress {
    pub(crate) fn add(&self, files: u64, bytes: u64) {
        self.files.fetch_add(files, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Files read so far.
    pub fn files(&self) -> u64 {
        self.files.load(Ordering::Relaxed)
    }

    /// Content bytes read so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}
