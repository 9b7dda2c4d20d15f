//! `_verger_manifest.json`: the list of files that make up a committed output.
//!
//! The manifest is the commit's atomic switch: one PUT replaces it, so a reader that follows
//! it sees the whole previous output or the whole new one, never a mix, whatever the state of
//! the directory around it (see [`crate::ParquetCommitExec`]).

use crate::error::commit_error;
use crate::layout::MANIFEST_NAME;
use datafusion::common::Result;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

/// One committed file, as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CommittedFile {
    pub name: String,
    pub rows: u64,
    pub bytes: u64,
}

/// `_verger_manifest.json`: what the last commit wrote, and when.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    /// The job that committed; empty for the manifest a first commit writes before it
    /// moves anything in, which lists the files found then (none, or those of a writer
    /// other than verger).
    pub job_id: String,
    pub mode: crate::SaveMode,
    /// When the client planned the job and when the commit finished (RFC 3339, UTC).
    pub started_at: String,
    pub committed_at: String,
    pub elapsed_seconds: f64,
    pub rows: u64,
    pub bytes: u64,
    pub files: Vec<CommittedFile>,
    pub writer: String,
}

/// Reads the manifest of a committed output; `None` when the output has none.
pub async fn read_manifest(store: &dyn ObjectStore, output: &Path) -> Result<Option<Manifest>> {
    let path = output.clone().join(MANIFEST_NAME);
    match store.get(&path).await {
        Ok(found) => {
            let bytes = found.bytes().await.map_err(|e| commit_error(path.to_string(), e.to_string()))?;
            serde_json::from_slice(&bytes).map(Some).map_err(|e| commit_error(path.to_string(), format!("not a verger manifest: {e}")))
        }
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(commit_error(path.to_string(), e.to_string())),
    }
}

/// Replaces the manifest of `output`, in one PUT (atomic on S3 and on a local disk).
pub(crate) async fn write_manifest(store: &dyn ObjectStore, output: &Path, manifest: &Manifest) -> Result<()> {
    let path = output.clone().join(MANIFEST_NAME);
    let json = serde_json::to_vec_pretty(manifest).map_err(|e| commit_error(output.to_string(), e.to_string()))?;
    store
        .put(&path, PutPayload::from(json))
        .await
        .map_err(|e| commit_error(output.to_string(), format!("cannot write the manifest: {e}")))?;
    Ok(())
}
