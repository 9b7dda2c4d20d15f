//! Finding and starting ONNX Runtime, once per process.
//!
//! verger links no ONNX Runtime: it loads `libonnxruntime` at run time (ort's `load-dynamic`)
//! from the PyPI wheel `onnxruntime==1.31.1` that the set-up installs. A process without it
//! gets an error saying what to install, never a panic.
//!
//! ONNX Runtime 1.29 and later record telemetry on Linux too: each process that starts it
//! writes a device id and queues usage events in `~/.cache/Microsoft/DeveloperTools/.onnxruntime/`,
//! uploaded to Microsoft when the network allows. Its API switch (`DisableTelemetryEvents`)
//! takes effect only after the process event is logged; only `ORT_DISABLE_TELEMETRY=1`, set
//! before it starts, stops all of it. verger sets it unless the user has set it.

use crate::error::{FeaturesError, Result};
use crate::io::search_starts;
use ort::environment::Environment;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Environment variable naming the `libonnxruntime` file to load (ort's own convention).
pub const ORT_LIBRARY_ENV: &str = "ORT_DYLIB_PATH";
/// The ONNX Runtime wheel verger is tested with.
pub const ORT_WHEEL: &str = "onnxruntime==1.31.1";

/// ONNX Runtime's own switch for its telemetry; verger sets it to `1` unless it is set.
pub const ORT_TELEMETRY_ENV: &str = "ORT_DISABLE_TELEMETRY";

static RUNTIME: OnceLock<std::result::Result<Environment, String>> = OnceLock::new();

/// The process's ONNX Runtime environment, started on first use.
pub fn onnx_runtime() -> Result<&'static Environment> {
    RUNTIME.get_or_init(start).as_ref().map_err(|message| FeaturesError::RuntimeMissing(message.clone()))
}

/// The library file this process loads (or would load), or why there is none.
pub fn onnx_runtime_library() -> std::result::Result<PathBuf, String> {
    find_library()
}

/// Turns ONNX Runtime's telemetry off for this process (`ORT_DISABLE_TELEMETRY=1`), unless
/// the variable is already set, which is the user's choice.
///
/// It writes the process environment, so call it before other threads start: verger's
/// binary does so first thing. [`onnx_runtime`] calls it again before loading the library,
/// for programs that embed verger.
pub fn opt_out_of_onnx_telemetry() {
    if std::env::var_os(ORT_TELEMETRY_ENV).is_some() {
        return;
    }
    // SAFETY: std serialises its own reads and writes of the environment; what remains is C
    // code reading it at the same moment. The binary calls this before any other thread
    // starts; an embedding program's first use of ONNX Runtime calls it before the library is
    // loaded, when no C code of ours reads the environment.
    unsafe { std::env::set_var(ORT_TELEMETRY_ENV, "1") };
}

fn start() -> std::result::Result<Environment, String> {
    let library = find_library()?;
    opt_out_of_onnx_telemetry();
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
    let mut pythons: Vec<PathBuf> =
        lib.flatten().map(|e| e.path()).filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("python3"))).collect();
    pythons.sort();
    for python in pythons.iter().rev() {
        for packages in ["site-packages", "dist-packages"] {
            let capi = python.join(packages).join("onnxruntime").join("capi");
            let Ok(entries) = std::fs::read_dir(&capi) else { continue };
            let mut libraries: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("libonnxruntime.so")))
                .collect();
            libraries.sort();
            if let Some(library) = libraries.pop() {
                return Some(library);
            }
        }
    }
    None
}
