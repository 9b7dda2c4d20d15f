//! Finding and starting ONNX Runtime, once per process.
//!
//! verger links no ONNX Runtime: it loads `libonnxruntime` at run time (ort's `load-dynamic`)
//! from the PyPI wheel `onnxruntime==1.31.1` that the set-up installs. A process without it
//! gets an error saying what to install, never a panic.

use crate::error::{FeaturesError, Result};
use crate::io::search_starts;
use ort::environment::Environment;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Environment variable naming the `libonnxruntime` file to load (ort's own convention).
pub const ORT_LIBRARY_ENV: &str = "ORT_DYLIB_PATH";
/// The ONNX Runtime wheel verger is tested with.
pub const ORT_WHEEL: &str = "onnxruntime==1.31.1";

static RUNTIME: OnceLock<std::result::Result<Environment, String>> = OnceLock::new();

/// The process's ONNX Runtime environment, started on first use.
pub fn onnx_runtime() -> Result<&'static Environment> {
    RUNTIME.get_or_init(start).as_ref().map_err(|message| FeaturesError::RuntimeMissing(message.clone()))
}

/// The library file this process loads (or would load), or why there is none.
pub fn onnx_runtime_library() -> std::result::Result<PathBuf, String> {
    find_library()
}

fn start() -> std::result::Result<Environment, String> {
    let library = find_library()?;
    let builder = ort::init_from(&library)
        .map_err(|e| format!("cannot load ONNX Runtime from {}: {e}. Reinstall it with `pip install {ORT_WHEEL}` (scripts/setup.sh does), or point {ORT_LIBRARY_ENV} at a working libonnxruntime.so", library.display()))?;
    let environment = builder
        .with_name("verger")
        .with_telemetry(false)
        .build()
        .map_err(|e| format!("cannot start ONNX Runtime from {}: {e}", library.display()))?;
    log::info!("ONNX Runtime loaded from {}", library.display());
    Ok(environment)
}

fn find_library() -> std::result::Result<PathBuf, String> {
    if let Some(path) = std::env::var_os(ORT_LIBRARY_ENV).filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!(
                "ONNX Runtime was not found: {ORT_LIBRARY_ENV}={} is not a file. Set it to the libonnxruntime.so of the PyPI wheel {ORT_WHEEL}, or unset it to let verger search",
                path.display()
            ))
        };
    }
    let roots = search_roots();
    for root in &roots {
        if let Some(found) = library_under(root) {
            return Ok(found);
        }
    }
    let looked: Vec<String> = roots.iter().map(|r| r.display().to_string()).collect();
    Err(format!(
        "ONNX Runtime was not found. verger loads libonnxruntime from the PyPI wheel {ORT_WHEEL}: run scripts/setup.sh (or `pip install {ORT_WHEEL}`), or set {ORT_LIBRARY_ENV} to the library file. Searched the site-packages of: {}",
        looked.join(", ")
    ))
}

/// Python environments that may hold the wheel: an active virtualenv, `.venv` next to the
/// working directory or the verger binary (or any of their parents), the user's and the
/// system's site-packages.
fn search_roots() -> Vec<PathBuf> {
    let mut roots = Vec::new();
    if let Some(venv) = std::env::var_os("VIRTUAL_ENV") {
        roots.push(PathBuf::from(venv));
    }
    for start in search_starts() {
        for dir in start.ancestors() {
            let venv = dir.join(".venv");
            if venv.is_dir() && !roots.contains(&venv) {
                roots.push(venv);
            }
        }
    }
    if let Some(home) = std::env::var_os("HOME") {
        roots.push(Path::new(&home).join(".local"));
    }
    roots.push(PathBuf::from("/usr/local"));
    roots.push(PathBuf::from("/usr"));
    roots
}

fn library_under(root: &Path) -> Option<PathBuf> {
    let lib = std::fs::read_dir(root.join("lib")).ok()?;
    let mut pythons: Vec<PathBuf> = lib.flatten().map(|e| e.path()).filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("python3"))).collect();
    pythons.sort();
    for python in pythons.iter().rev() {
        for packages in ["site-packages", "dist-packages"] {
            let capi = python.join(packages).join("onnxruntime").join("capi");
            let Ok(entries) = std::fs::read_dir(&capi) else { continue };
            let mut libraries: Vec<PathBuf> =
                entries.flatten().map(|e| e.path()).filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("libonnxruntime.so"))).collect();
            libraries.sort();
            if let Some(library) = libraries.pop() {
                return Some(library);
            }
        }
    }
    None
}
