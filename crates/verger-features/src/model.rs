//! Loaded models: read once per process, one ONNX Runtime session per inference thread.

use crate::error::{FeaturesError, Result};
use crate::io::read_bytes;
use crate::pool::inference_pool;
use crate::runtime::onnx_runtime;
use crate::spec::ModelSpec;
use datafusion::config::ConfigOptions;
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::TensorRef;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// A model ready to run, shared by every query of the process.
pub struct LoadedModel {
    pub spec: ModelSpec,
    bytes: Vec<u8>,
    input: String,
    /// Output name and vector length.
    pub features: Option<(String, usize)>,
    pub logits: Option<(String, usize)>,
    pub classes: Option<Vec<String>>,
    /// Sessions by inference-thread index; the last slot serves callers outside the pool.
    sessions: Vec<Mutex<Option<Session>>>,
}

impl std::fmt::Debug for LoadedModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedModel")
            .field("spec", &self.spec)
            .field("features", &self.features)
            .field("logits", &self.logits)
            .finish_non_exhaustive()
    }
}

type Slot = Arc<Mutex<Option<Arc<LoadedModel>>>>;
static MODELS: Mutex<Option<HashMap<String, Slot>>> = Mutex::new(None);
static LOADS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// How many times this process has loaded a model file (for tests and metrics: once per model).
pub fn model_loads() -> usize {
    LOADS.load(std::sync::atomic::Ordering::Relaxed)
}

/// Whether this process has `spec`'s model loaded; one still loading is not, yet.
pub fn is_model_loaded(spec: &ModelSpec) -> bool {
    let slot = match MODELS.lock() {
        Ok(models) => models.as_ref().and_then(|models| models.get(&spec.cache_key()).cloned()),
        Err(_) => None,
    };
    slot.is_some_and(|slot| slot.try_lock().is_ok_and(|model| model.is_some()))
}

static PRELOAD_WHEN_PLANNING: AtomicBool = AtomicBool::new(false);
/// Models whose preload has started (by cache key), and the threads loading them.
type Preloads = (HashSet<String>, Vec<JoinHandle<()>>);
static PRELOADS: Mutex<Option<Preloads>> = Mutex::new(None);

/// Makes this process start loading a query's models, on a background thread, as soon as the
/// query is planned: ONNX Runtime, the model file and the inference threads' sessions are then
/// ready when the first images arrive, instead of ~0.15 s after. For processes that run what
/// they plan: an embedded session turns it on (`verger::session_context`); a cluster's
/// client and scheduler leave it off, as only its executors run models.
pub fn preload_when_planning(on: bool) {
    PRELOAD_WHEN_PLANNING.store(on, Ordering::Relaxed);
}

/// Waits for the preloads this process started. Call it before the process exits: a query that
/// failed after planning may leave one running, and ONNX Runtime must not be torn down under it.
pub fn wait_for_preloads() {
    let threads = match PRELOADS.lock() {
        Ok(mut preloads) => preloads.as_mut().map(|(_, threads)| std::mem::take(threads)).unwrap_or_default(),
        Err(_) => return,
    };
    for thread in threads {
        let _ = thread.join();
    }
}

/// Starts loading `spec`'s model in the background, once per model, if this process preloads
/// (see [`preload_when_planning`]). A failed preload is forgotten: the query's first use
/// loads again and reports the error where it belongs.
pub(crate) fn preload(spec: &ModelSpec, options: &ConfigOptions) {
    if !PRELOAD_WHEN_PLANNING.load(Ordering::Relaxed) {
        return;
    }
    let key = spec.cache_key();
    let Ok(mut preloads) = PRELOADS.lock() else { return };
    let (started, threads) = preloads.get_or_insert_with(Default::default);
    // Finished loads need no waiting for (a long-lived process may plan many queries).
    threads.retain(|thread| !thread.is_finished());
    if !started.insert(key.clone()) {
        return;
    }
    let (spec, options, loading_key) = (spec.clone(), options.clone(), key.clone());
    let loading = std::thread::Builder::new().name("verger-model-preload".into()).spawn(move || {
        if let Err(error) = load_model(&spec, &options) {
            log::debug!("preloading model '{}' failed; its first use will try again: {error}", spec.name);
            if let Ok(mut preloads) = PRELOADS.lock()
                && let Some((started, _)) = preloads.as_mut()
            {
                started.remove(&loading_key);
            }
        }
    });
    match loading {
        Ok(thread) => threads.push(thread),
        Err(_) => {
            started.remove(&key);
        }
    }
}

/// The loaded model of `spec`, loading it on first use. Concurrent first uses wait for one
/// load; a failed load is not remembered, so the next query tries again.
pub fn load_model(spec: &ModelSpec, options: &ConfigOptions) -> Result<Arc<LoadedModel>> {
    let slot: Slot = {
        let mut models = MODELS.lock().map_err(|_| FeaturesError::Runtime("model cache poisoned".into()))?;
        Arc::clone(models.get_or_insert_with(HashMap::new).entry(spec.cache_key()).or_default())
    };
    let mut slot = slot.lock().map_err(|_| FeaturesError::Runtime("model cache poisoned".into()))?;
    if let Some(model) = slot.as_ref() {
        return Ok(Arc::clone(model));
    }
    let model = Arc::new(LoadedModel::load(spec, options)?);
    *slot = Some(Arc::clone(&model));
    Ok(model)
}

fn ort_error(spec: &ModelSpec, error: impl std::fmt::Display) -> FeaturesError {
    FeaturesError::model(&spec.name, format!("ONNX Runtime: {error}"))
}

fn last_dim(session: &Session, output: &str) -> Option<usize> {
    let outlet = session.outputs().iter().find(|o| o.name() == output)?;
    let shape = outlet.dtype().tensor_shape()?;
    shape.last().and_then(|d| usize::try_from(*d).ok()).filter(|d| *d > 0)
}

impl LoadedModel {
    fn load(spec: &ModelSpec, options: &ConfigOptions) -> Result<Self> {
        let started = std::time::Instant::now();
        let bytes = read_bytes(&spec.model_uri, options)?;
        if let Some(expected) = &spec.sha256 {
            let actual = format!("{:x}", Sha256::digest(&bytes));
            if !actual.eq_ignore_ascii_case(expected) {
                return Err(FeaturesError::model(
                    &spec.name,
                    format!("{} has sha256 {actual}, the descriptor expects {expected}", spec.model_uri),
                ));
            }
        }
        // Every inference thread opens its own session, all at once: opening one takes as long
        // as ~7 images of inference, and a thread that opened it lazily would start that much late.
        let mut opened: Vec<Option<Session>> = Vec::new();
        for session in inference_pool()?.broadcast(|_| new_session(spec, &bytes)) {
            opened.push(Some(session?));
        }
        let Some(Some(session)) = opened.first() else {
            return Err(FeaturesError::Runtime("no inference thread opened a session".into()));
        };
        let input = match &spec.input {
            Some(name) if session.inputs().iter().any(|i| i.name() == name) => name.clone(),
            Some(name) => return Err(FeaturesError::model(&spec.name, format!("has no input named '{name}'"))),
            None => {
                session.inputs().first().map(|i| i.name().to_owned()).ok_or_else(|| FeaturesError::model(&spec.name, "has no input"))?
            }
        };
        let output_names: Vec<String> = session.outputs().iter().map(|o| o.name().to_owned()).collect();
        let pick = |wanted: &Option<String>, conventional: &str, fallback_first: bool| -> Result<Option<String>> {
            match wanted {
                Some(name) if output_names.contains(name) => Ok(Some(name.clone())),
                Some(name) => {
                    Err(FeaturesError::model(&spec.name, format!("has no output named '{name}' (outputs: {})", output_names.join(", "))))
                }
                None if output_names.iter().any(|n| n == conventional) => Ok(Some(conventional.to_owned())),
                None if fallback_first => Ok(output_names.first().cloned()),
                None => Ok(None),
            }
        };
        let features = pick(&spec.features_output, "features", true)?.map(|name| {
            let dim = last_dim(session, &name).or(spec.features_dim).unwrap_or(0);
            (name, dim)
        });
        if let (Some((_, model_dim)), Some(declared)) = (&features, spec.features_dim)
            && *model_dim != declared
        {
            return Err(FeaturesError::model(
                &spec.name,
                format!("features_dim is {declared} but the model's features output has {model_dim} values"),
            ));
        }
        let logits = pick(&spec.logits_output, "logits", false)?.map(|name| {
            let dim = last_dim(session, &name).unwrap_or(0);
            (name, dim)
        });
        let classes = match &spec.classes_uri {
            Some(uri) => {
                let text = String::from_utf8(read_bytes(uri, options)?)
                    .map_err(|_| FeaturesError::Read { uri: uri.clone(), reason: "not UTF-8 text".into() })?;
                Some(text.lines().map(|l| l.trim().to_owned()).filter(|l| !l.is_empty()).collect::<Vec<_>>())
            }
            None => None,
        };
        // One slot per inference thread, and a last one for callers outside the pool.
        opened.push(None);
        let sessions: Vec<Mutex<Option<Session>>> = opened.into_iter().map(Mutex::new).collect();
        LOADS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        log::info!(
            "model '{}' loaded from {} in {:?} (input {input}, features {features:?}, logits {logits:?})",
            spec.name,
            spec.model_uri,
            started.elapsed()
        );
        Ok(Self { spec: spec.clone(), bytes, input, features, logits, classes, sessions })
    }

    /// Runs the model on `batch` images laid out as the spec says in `tensor`, and returns
    /// the values of `output` (`batch` × its length). Called from an inference thread, it
    /// uses that thread's session.
    pub fn run(&self, tensor: &[f32], batch: usize, output: &str) -> Result<Vec<f32>> {
        let index = rayon::current_thread_index().filter(|i| *i + 1 < self.sessions.len()).unwrap_or(self.sessions.len() - 1);
        let mut slot = self.sessions[index].lock().map_err(|_| FeaturesError::Runtime("session poisoned".into()))?;
        if slot.is_none() {
            *slot = Some(new_session(&self.spec, &self.bytes)?);
        }
        let Some(session) = slot.as_mut() else {
            return Err(FeaturesError::Runtime("no session".into()));
        };
        let shape = self.spec.preprocess.shape(batch);
        let input = TensorRef::from_array_view((shape, tensor)).map_err(|e| ort_error(&self.spec, e))?;
        let outputs = session.run(ort::inputs![self.input.as_str() => input]).map_err(|e| ort_error(&self.spec, e))?;
        let value = outputs.get(output).ok_or_else(|| FeaturesError::model(&self.spec.name, format!("produced no output '{output}'")))?;
        let (_, values) = value.try_extract_tensor::<f32>().map_err(|e| ort_error(&self.spec, e))?;
        Ok(values.to_vec())
    }
}

fn new_session(spec: &ModelSpec, bytes: &[u8]) -> Result<Session> {
    let environment = onnx_runtime()?;
    let builder = Session::builder(environment).map_err(|e| ort_error(spec, e))?;
    let builder = builder.with_optimization_level(GraphOptimizationLevel::All).map_err(|e| ort_error(spec, e))?;
    // One intra-op thread per session: parallelism comes from one session per core.
    let builder = builder.with_intra_threads(1).map_err(|e| ort_error(spec, e))?;
    let mut builder = builder.with_inter_threads(1).map_err(|e| ort_error(spec, e))?;
    builder.commit_from_memory(bytes).map_err(|e| ort_error(spec, e))
}
