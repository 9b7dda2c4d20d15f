//! Reading model files from local paths or S3 from synchronous code.

use crate::error::{FeaturesError, Result};
use datafusion::config::ConfigOptions;
use object_store::ObjectStoreExt;
use std::future::Future;
use verger_storage::{Scheme, StorageLocation, object_store_for, redact};

/// Runs `work` (CPU-bound, synchronous) without starving the async runtime: on a
/// multi-threaded tokio runtime the worker thread is handed over to tokio's blocking pool
/// for the duration, so other tasks move to other workers.
pub(crate) fn run_blocking<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(work),
        _ => work(),
    }
}

/// Waits for `future` from synchronous code, inside or outside a tokio runtime.
fn block_on<T: Send>(future: impl Future<Output = T> + Send) -> Result<T> {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            Ok(tokio::task::block_in_place(|| handle.block_on(future)))
        }
        // A current-thread runtime cannot be blocked from within: wait on a helper thread.
        _ => std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| FeaturesError::Runtime(e.to_string()))?;
                    Ok(runtime.block_on(future))
                })
                .join()
                .map_err(|_| FeaturesError::Runtime("the I/O helper thread panicked".into()))?
        }),
    }
}

/// The bytes at `uri` (local path, `file:`, `s3://`), with the session's S3 settings.
pub(crate) fn read_bytes(uri: &str, options: &ConfigOptions) -> Result<Vec<u8>> {
    let failed = |reason: String| FeaturesError::Read { uri: uri.to_owned(), reason: redact(&reason).into_owned() };
    let location = StorageLocation::parse(uri).map_err(|e| failed(e.to_string()))?;
    match location.scheme() {
        Scheme::Local => {
            let path = format!("/{}", location.object_path());
            std::fs::read(&path).map_err(|e| failed(e.to_string()))
        }
        Scheme::S3 { .. } => {
            let store = object_store_for(&location, options).map_err(|e| failed(e.to_string()))?;
            let path = location.object_path();
            let bytes = block_on(async move {
                let result = store.get(&path).await?;
                result.bytes().await
            })?
            .map_err(|e| failed(e.to_string()))?;
            Ok(bytes.to_vec())
        }
    }
}

/// Where a process looks for files installed next to verger: its working directory and its
/// binary (callers walk up from each, through their parents).
pub(crate) fn search_starts() -> Vec<std::path::PathBuf> {
    [std::env::current_dir().ok(), std::env::current_exe().ok()].into_iter().flatten().collect()
}

/// `relative` resolved against the directory of `base` (both URIs), unless it is absolute.
pub(crate) fn sibling_uri(base: &str, relative: &str) -> String {
    if relative.starts_with('/') || relative.contains("://") || relative.starts_with("file:") {
        return relative.to_owned();
    }
    match base.rfind('/') {
        Some(slash) => format!("{}/{relative}", &base[..slash]),
        None => relative.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn siblings_resolve_against_the_descriptor() {
        assert_eq!(sibling_uri("s3://b/models/m/model.json", "model.onnx"), "s3://b/models/m/model.onnx");
        assert_eq!(sibling_uri("/opt/m/model.json", "/elsewhere/x.onnx"), "/elsewhere/x.onnx");
        assert_eq!(sibling_uri("/opt/m/model.json", "s3://b/x.onnx"), "s3://b/x.onnx");
    }
}
