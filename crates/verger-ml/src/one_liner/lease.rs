//! The lifetime of a materialised input's folder `<verger.materialize.dir>/<id>/`.
//!
//! - While any stream of the query that uses the folder runs in a process (a writer, a
//!   reader, the query's release), that process rewrites `<id>/_lease` every
//!   [`HEARTBEAT`]: who it is (host, boot, pid, process start) and when.
//! - The query's release ([`super::release`]) deletes the folder once the query is done;
//!   afterwards no heartbeat of that process writes to it again.
//! - When a process first holds a folder, and again when a query releases its folders,
//!   it sweeps the folders next to them that are stale: a lease not rewritten for [`STALE_AFTER`], or one written by an embedded run
//!   on this machine whose process is gone (a killed `verger sql`). A live query keeps
//!   its lease fresh, so its folder is never swept. Only names of the form
//!   [`super::materialize::new_materialize_id`] mints are considered.

use super::materialize::{Folder, is_materialize_id, materialize_error};
use datafusion::common::Result;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How often a process using a folder rewrites its lease.
pub const HEARTBEAT: Duration = Duration::from_secs(15);
/// A lease older than this belongs to a query that is over (or whose processes all died).
pub const STALE_AFTER: Duration = Duration::from_secs(10 * 60);
pub const LEASE_FILE: &str = "_lease";

/// Who wrote a lease, and when.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct LeaseRecord {
    host: Option<String>,
    boot: Option<String>,
    pid: u32,
    /// The process's start time (clock ticks after boot), to tell a reused pid apart.
    started: Option<u64>,
    /// An embedded run: the process that planned the query runs all of it, so once that
    /// process is gone the folder is no longer needed.
    embedded: bool,
    heartbeat_ms: u64,
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

fn read_proc(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// Field 22 of `/proc/<pid>/stat` (start time), or `None` when the process is gone or a zombie.
fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    if matches!(fields.first(), Some(&"Z") | Some(&"X")) {
        return None;
    }
    fields.get(19)?.parse().ok()
}

impl LeaseRecord {
    fn mine(embedded: bool) -> Self {
        let pid = std::process::id();
        LeaseRecord {
            host: read_proc("/proc/sys/kernel/hostname"),
            boot: read_proc("/proc/sys/kernel/random/boot_id"),
            pid,
            started: process_start(pid),
            embedded,
            heartbeat_ms: now_ms(),
        }
    }

    /// True when the query that wrote this lease can no longer use its folder.
    fn is_stale(&self, now_ms: u64) -> bool {
        if now_ms.saturating_sub(self.heartbeat_ms) > STALE_AFTER.as_millis() as u64 {
            return true;
        }
        let here = LeaseRecord::mine(false);
        let same_machine = self.host.is_some() && self.boot.is_some() && self.host == here.host && self.boot == here.boot;
        self.embedded && same_machine && self.started.is_some() && process_start(self.pid) != self.started
    }
}

/// One folder held by this process: its heartbeat runs while a [`LeaseHold`] lives.
struct Lease {
    folder: Folder,
    embedded: bool,
    /// Set once the folder is deleted; guarded so that no heartbeat write races the delete.
    released: tokio::sync::Mutex<bool>,
}

static LEASES: LazyLock<Mutex<HashMap<String, Weak<Lease>>>> = LazyLock::new(|| Mutex::new(HashMap::new()));

/// Keeps a folder's lease fresh while it lives.
pub struct LeaseHold {
    _lease: Arc<Lease>,
}

impl std::fmt::Debug for LeaseHold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LeaseHold({})", self._lease.folder.shown)
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Ok(mut leases) = LEASES.lock()
            && leases.get(&self.folder.shown).is_some_and(|weak| weak.strong_count() == 0)
        {
            leases.remove(&self.folder.shown);
        }
    }
}

/// Holds `folder` for a stream of this process: starts its heartbeat (and, the first time,
/// a sweep of its stale neighbours) unless the process already holds it. Needs a Tokio
/// runtime, as every DataFusion stream has.
pub fn hold(folder: Folder, embedded: bool) -> LeaseHold {
    let mut leases = LEASES.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(lease) = leases.get(&folder.shown).and_then(Weak::upgrade) {
        return LeaseHold { _lease: lease };
    }
    let lease = Arc::new(Lease { folder, embedded, released: tokio::sync::Mutex::new(false) });
    leases.insert(lease.folder.shown.clone(), Arc::downgrade(&lease));
    drop(leases);
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        log::warn!("no async runtime: the lease of {} is not renewed", lease.folder.shown);
        return LeaseHold { _lease: lease };
    };
    let weak = Arc::downgrade(&lease);
    runtime.spawn(async move {
        let mut swept = false;
        loop {
            let Some(lease) = weak.upgrade() else { return };
            {
                let released = lease.released.lock().await;
                if *released {
                    return;
                }
                if let Err(e) = write_lease(&lease.folder, lease.embedded).await {
                    log::warn!("could not renew the lease of {}: {e}", lease.folder.shown);
                }
            }
            if !swept {
                swept = true;
                if let Err(e) = sweep(&lease.folder).await {
                    log::warn!("could not sweep stale materialised inputs next to {}: {e}", lease.folder.shown);
                }
            }
            drop(lease);
            tokio::time::sleep(HEARTBEAT).await;
        }
    });
    LeaseHold { _lease: lease }
}

async fn write_lease(folder: &Folder, embedded: bool) -> Result<()> {
    let record = serde_json::to_vec(&LeaseRecord::mine(embedded)).map_err(|e| materialize_error(e.to_string()))?;
    let path = folder.base.clone().join(LEASE_FILE);
    folder.store.put(&path, record.into()).await.map_err(|e| materialize_error(format!("cannot write {path}: {e}")))?;
    Ok(())
}

/// Deletes `folder` for good: this process's heartbeat stops first, so it cannot write the
/// lease back. Failures only leave files behind for a later sweep, so they are logged.
pub async fn release(folder: &Folder) {
    let lease = {
        let leases = LEASES.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        leases.get(&folder.shown).and_then(Weak::upgrade)
    };
    let _released = match &lease {
        Some(lease) => {
            let mut released = lease.released.lock().await;
            *released = true;
            Some(released)
        }
        None => None,
    };
    if let Err(e) = delete_folder(folder).await {
        log::warn!("could not delete the materialised input {}: {e}", folder.shown);
    } else {
        log::debug!("deleted the materialised input {}", folder.shown);
    }
    // Awaited here, so that even a process that exits right after its query (`verger sql`)
    // has swept what earlier, killed runs left.
    if let Err(e) = sweep(folder).await {
        log::warn!("could not sweep stale materialised inputs next to {}: {e}", folder.shown);
    }
}

async fn delete_folder(folder: &Folder) -> Result<()> {
    if let Some(local) = &folder.local {
        return match std::fs::remove_dir_all(local) {
            Ok(()) => Ok(()),
            Err(_) if !local.exists() => Ok(()),
            Err(e) => Err(materialize_error(format!("cannot delete {}: {e}", local.display()))),
        };
    }
    let listed: Vec<_> = folder
        .store
        .list(Some(&folder.base))
        .try_collect()
        .await
        .map_err(|e| materialize_error(format!("cannot list {}: {e}", folder.shown)))?;
    for meta in listed {
        match folder.store.delete(&meta.location).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(materialize_error(format!("cannot delete {}: {e}", meta.location))),
        }
    }
    Ok(())
}

/// One sweep at a time in a process.
static SWEEPING: LazyLock<tokio::sync::Mutex<()>> = LazyLock::new(|| tokio::sync::Mutex::new(()));

/// The stale folders next to `folder` that this process does not hold, deleted.
async fn sweep(folder: &Folder) -> Result<usize> {
    let Some(root) = folder.parent() else { return Ok(0) };
    let _one_at_a_time = SWEEPING.lock().await;
    let listed = root
        .store
        .list_with_delimiter(Some(&root.base))
        .await
        .map_err(|e| materialize_error(format!("cannot list {}: {e}", root.shown)))?;
    let now = now_ms();
    let mut swept = 0;
    for prefix in listed.common_prefixes {
        let Some(id) = prefix.filename().map(str::to_owned) else { continue };
        if !is_materialize_id(&id) || prefix == folder.base {
            continue;
        }
        let candidate = root.child(&id);
        let held = LEASES.lock().map(|leases| leases.get(&candidate.shown).is_some_and(|w| w.strong_count() > 0)).unwrap_or(true);
        if held || !is_stale(&candidate, now).await? {
            continue;
        }
        log::info!("removing the stale materialised input {}", candidate.shown);
        delete_folder(&candidate).await?;
        swept += 1;
    }
    Ok(swept)
}

async fn is_stale(folder: &Folder, now: u64) -> Result<bool> {
    let lease_path: Path = folder.base.clone().join(LEASE_FILE);
    match folder.store.get(&lease_path).await {
        Ok(found) => {
            let bytes = found.bytes().await.map_err(|e| materialize_error(format!("cannot read {lease_path}: {e}")))?;
            // An unreadable lease (written by hand, or cut short) ages like a missing one.
            match serde_json::from_slice::<LeaseRecord>(&bytes) {
                Ok(record) => Ok(record.is_stale(now)),
                Err(_) => newest_is_old(folder, now).await,
            }
        }
        Err(object_store::Error::NotFound { .. }) => newest_is_old(folder, now).await,
        Err(e) => Err(materialize_error(format!("cannot read {lease_path}: {e}"))),
    }
}

/// No lease (a writer that started before its lease was written, or an older verger):
/// stale when nothing in the folder changed for [`STALE_AFTER`].
async fn newest_is_old(folder: &Folder, now: u64) -> Result<bool> {
    let listed: Vec<_> = folder
        .store
        .list(Some(&folder.base))
        .try_collect()
        .await
        .map_err(|e| materialize_error(format!("cannot list {}: {e}", folder.shown)))?;
    let newest = listed.iter().map(|meta| meta.last_modified.timestamp_millis().max(0) as u64).max();
    Ok(newest.is_none_or(|newest| now.saturating_sub(newest) > STALE_AFTER.as_millis() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_is_stale_when_old_or_when_its_embedded_process_is_gone() {
        let now = now_ms();
        let live = LeaseRecord::mine(true);
        assert!(!live.is_stale(now), "this process is alive");
        let old = LeaseRecord { heartbeat_ms: now - STALE_AFTER.as_millis() as u64 - 1, ..LeaseRecord::mine(false) };
        assert!(old.is_stale(now));
        let gone = LeaseRecord { pid: u32::MAX, ..LeaseRecord::mine(true) };
        assert!(gone.is_stale(now), "an embedded run whose process is gone");
        let cluster = LeaseRecord { pid: u32::MAX, ..LeaseRecord::mine(false) };
        assert!(!cluster.is_stale(now), "a cluster task's process may be gone while the job retries elsewhere");
        let reused = LeaseRecord { started: live.started.map(|s| s + 1), ..LeaseRecord::mine(true) };
        assert!(reused.is_stale(now), "a reused pid is another process");
    }

    fn write(path: &std::path::Path, bytes: &[u8]) {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{e}"));
        }
        std::fs::write(path, bytes).unwrap_or_else(|e| panic!("{e}"));
    }

    /// A killed embedded run's folder goes; a live one's, a fresh cluster lease's and
    /// anything not named like a materialised input stay.
    #[tokio::test]
    async fn a_sweep_removes_only_stale_materialised_inputs() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| materialize_error(e.to_string()))?;
        let root = Folder::root(&dir.path().to_string_lossy(), &datafusion::config::ConfigOptions::new())?;
        let record = |record: LeaseRecord| serde_json::to_vec(&record).unwrap_or_default();
        let dead = LeaseRecord { pid: u32::MAX, ..LeaseRecord::mine(true) };
        let cluster = LeaseRecord { pid: u32::MAX, ..LeaseRecord::mine(false) };
        write(&dir.path().join("1a-2b-0").join(LEASE_FILE), &record(dead.clone()));
        write(&dir.path().join("1a-2b-0").join("part-00000-of-00001.arrow"), b"x");
        write(&dir.path().join("1a-2b-1").join(LEASE_FILE), &record(LeaseRecord::mine(true)));
        write(&dir.path().join("1a-2b-2").join(LEASE_FILE), &record(cluster));
        write(&dir.path().join("mine").join(LEASE_FILE), &record(dead));
        let swept = sweep(&root.child("1a-2b-9")).await?;
        assert_eq!(swept, 1);
        assert!(!dir.path().join("1a-2b-0").exists(), "the killed run's folder is gone");
        for kept in ["1a-2b-1", "1a-2b-2", "mine"] {
            assert!(dir.path().join(kept).exists(), "{kept} is kept");
        }
        Ok(())
    }
}
