//! A model registration resolved: settings over the model's descriptor over defaults.
//!
//! A model is registered by name with `verger.model.<name>.<field>` settings (see
//! `verger_config::MODEL_FIELDS`). Its `uri` names either an `.onnx` file, or a descriptor
//! `model.json` (or a directory holding one) that gives the other fields; settings override
//! the descriptor. The default model `efficientnet_lite0` needs no registration: each process
//! finds the copy the set-up built.

use crate::error::{FeaturesError, Result};
use crate::io::{read_bytes, search_starts, sibling_uri};
use datafusion::config::ConfigOptions;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use verger_config::{DEFAULT_MODEL, ModelSettings, VergerConfig};
use verger_tensors::{Layout, Preprocess, ResizeMode};

/// Environment variable naming a directory of model directories (`<dir>/<name>/model.json`).
pub const MODELS_DIR_ENV: &str = "VERGER_MODELS";

/// Everything needed to load and run one model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSpec {
    pub name: String,
    /// Where the `.onnx` file is.
    pub model_uri: String,
    /// Expected sha256 of the model file, when the descriptor gives one.
    pub sha256: Option<String>,
    pub input: Option<String>,
    pub preprocess: Preprocess,
    pub features_output: Option<String>,
    pub features_dim: Option<usize>,
    pub logits_output: Option<String>,
    pub classes_uri: Option<String>,
}

impl ModelSpec {
    /// Identifies a loaded model: two specs with the same key share sessions.
    pub(crate) fn cache_key(&self) -> String {
        format!("{self:?}")
    }
}

/// The descriptor file's fields (all optional).
#[derive(Debug, Default, Deserialize)]
struct Descriptor {
    model: Option<String>,
    sha256: Option<String>,
    input: Option<String>,
    input_size: Option<serde_json::Value>,
    layout: Option<String>,
    resize: Option<String>,
    crop_fraction: Option<f32>,
    pad_value: Option<u8>,
    scale: Option<f32>,
    mean: Option<serde_json::Value>,
    std: Option<serde_json::Value>,
    features_output: Option<String>,
    features_dim: Option<usize>,
    logits_output: Option<String>,
    classes: Option<String>,
}

/// Descriptors read by this process, by URI: read once, like the models.
static DESCRIPTORS: Mutex<Option<HashMap<String, Arc<serde_json::Value>>>> = Mutex::new(None);

fn read_descriptor(uri: &str, options: &ConfigOptions) -> Result<Arc<serde_json::Value>> {
    if let Ok(cache) = DESCRIPTORS.lock()
        && let Some(found) = cache.as_ref().and_then(|c| c.get(uri))
    {
        return Ok(Arc::clone(found));
    }
    let bytes = read_bytes(uri, options)?;
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| FeaturesError::Read { uri: uri.to_owned(), reason: format!("not a JSON model descriptor: {e}") })?;
    let value = Arc::new(value);
    if let Ok(mut cache) = DESCRIPTORS.lock() {
        cache.get_or_insert_with(HashMap::new).insert(uri.to_owned(), Arc::clone(&value));
    }
    Ok(value)
}

/// Where this process finds the default model the set-up builds: `$VERGER_MODELS/<name>`,
/// else `.verger/models/<name>` next to the working directory or the verger binary, or any
/// of their parents.
fn find_builtin(name: &str) -> Result<String> {
    let mut looked = Vec::new();
    if let Some(dir) = std::env::var_os(MODELS_DIR_ENV) {
        let candidate = PathBuf::from(dir).join(name);
        if candidate.join("model.json").is_file() {
            return Ok(candidate.display().to_string());
        }
        looked.push(candidate.display().to_string());
    }
    for start in search_starts() {
        for dir in start.ancestors() {
            let candidate = dir.join(".verger").join("models").join(name);
            if candidate.join("model.json").is_file() {
                return Ok(candidate.display().to_string());
            }
        }
        looked.push(format!("{}/**/.verger/models/{name}", start.display()));
    }
    Err(FeaturesError::model(
        name,
        format!(
            "the default model was not found (looked in {}). Build it with scripts/setup.sh, set {MODELS_DIR_ENV} to the directory holding it, or SET verger.model.{name}.uri",
            looked.join(", ")
        ),
    ))
}

fn parse_numbers(name: &str, field: &str, value: &serde_json::Value) -> Result<[f32; 3]> {
    let numbers: Vec<f32> = match value {
        serde_json::Value::Number(n) => n.as_f64().map(|v| vec![v as f32]).unwrap_or_default(),
        serde_json::Value::Array(items) => items.iter().filter_map(|v| v.as_f64()).map(|v| v as f32).collect(),
        serde_json::Value::String(text) => {
            text.split(',').map(|t| t.trim().parse::<f32>()).collect::<std::result::Result<_, _>>().unwrap_or_default()
        }
        _ => Vec::new(),
    };
    match numbers.as_slice() {
        [one] => Ok([*one; 3]),
        [r, g, b] => Ok([*r, *g, *b]),
        _ => Err(FeaturesError::model(name, format!("{field} must be one number or three (R,G,B), not {value}"))),
    }
}

fn parse_size(name: &str, value: &serde_json::Value) -> Result<(u32, u32)> {
    let invalid = || FeaturesError::model(name, format!("input_size must be a size in pixels such as 224 or 320x240, not {value}"));
    let (width, height) = match value {
        serde_json::Value::Number(n) => {
            let side = n.as_u64().ok_or_else(invalid)?;
            (side, side)
        }
        serde_json::Value::String(text) => match text.to_ascii_lowercase().split_once('x') {
            Some((w, h)) => (w.trim().parse().map_err(|_| invalid())?, h.trim().parse().map_err(|_| invalid())?),
            None => {
                let side = text.trim().parse().map_err(|_| invalid())?;
                (side, side)
            }
        },
        serde_json::Value::Array(items) if items.len() == 2 => {
            // [height, width], as tensor shapes are written.
            let h = items[0].as_u64().ok_or_else(invalid)?;
            let w = items[1].as_u64().ok_or_else(invalid)?;
            (w, h)
        }
        _ => return Err(invalid()),
    };
    if !(1..=8192).contains(&width) || !(1..=8192).contains(&height) {
        return Err(invalid());
    }
    Ok((width as u32, height as u32))
}

/// Resolves the model `name` of a session.
pub fn resolve_model(name: &str, config: &VergerConfig, options: &ConfigOptions) -> Result<ModelSpec> {
    let empty = ModelSettings::new();
    let settings = config.models.get(name).unwrap_or(&empty);
    let uri = match settings.get("uri") {
        Some(uri) => uri.clone(),
        None if name == DEFAULT_MODEL => find_builtin(name)?,
        None => {
            let known: Vec<&String> = config.models.keys().collect();
            return Err(FeaturesError::model(
                name,
                format!(
                    "not registered: SET verger.model.{name}.uri = '<model directory, model.json or .onnx>' first (registered: {DEFAULT_MODEL}{}{})",
                    if known.is_empty() { "" } else { ", " },
                    known.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
                ),
            ));
        }
    };
    let (descriptor, model_uri) = if uri.to_ascii_lowercase().ends_with(".onnx") {
        (Descriptor::default(), uri.clone())
    } else {
        let descriptor_uri =
            if uri.to_ascii_lowercase().ends_with(".json") { uri.clone() } else { format!("{}/model.json", uri.trim_end_matches('/')) };
        let value = read_descriptor(&descriptor_uri, options)?;
        let descriptor: Descriptor = serde_json::from_value((*value).clone())
            .map_err(|e| FeaturesError::Read { uri: descriptor_uri.clone(), reason: format!("not a model descriptor: {e}") })?;
        let model_uri = sibling_uri(&descriptor_uri, descriptor.model.as_deref().unwrap_or("model.onnx"));
        let descriptor = Descriptor { classes: descriptor.classes.as_deref().map(|c| sibling_uri(&descriptor_uri, c)), ..descriptor };
        (descriptor, model_uri)
    };
    let text = |field: &str| settings.get(field).cloned();
    let json_text = |field: &str| settings.get(field).map(|v| serde_json::Value::String(v.clone()));

    let (width, height) = match json_text("input_size").or(descriptor.input_size.clone()) {
        Some(value) => parse_size(name, &value)?,
        None => (224, 224),
    };
    let layout = match text("layout").or(descriptor.layout.clone()).unwrap_or_else(|| "NCHW".into()).to_ascii_uppercase().as_str() {
        "NCHW" => Layout::Nchw,
        "NHWC" => Layout::Nhwc,
        other => return Err(FeaturesError::model(name, format!("layout must be NCHW or NHWC, not {other}"))),
    };
    let parse_f32 = |field: &str, from_descriptor: Option<f32>| -> Result<Option<f32>> {
        match settings.get(field) {
            Some(v) => {
                v.trim().parse::<f32>().map(Some).map_err(|_| FeaturesError::model(name, format!("{field} must be a number, not '{v}'")))
            }
            None => Ok(from_descriptor),
        }
    };
    let resize = match text("resize").or(descriptor.resize.clone()).unwrap_or_else(|| "stretch".into()).to_ascii_lowercase().as_str() {
        "stretch" => ResizeMode::Stretch,
        "center_crop" | "centre_crop" => {
            let fraction = parse_f32("crop_fraction", descriptor.crop_fraction)?.unwrap_or(0.875);
            if !(fraction > 0.0 && fraction <= 1.0) {
                return Err(FeaturesError::model(name, format!("crop_fraction must be in (0, 1], not {fraction}")));
            }
            ResizeMode::CenterCrop { fraction }
        }
        "pad" => {
            let fill = match settings.get("pad_value") {
                Some(v) => v
                    .trim()
                    .parse::<u8>()
                    .map_err(|_| FeaturesError::model(name, format!("pad_value must be a gray level 0-255, not '{v}'")))?,
                None => descriptor.pad_value.unwrap_or(255),
            };
            ResizeMode::Pad { fill }
        }
        other => return Err(FeaturesError::model(name, format!("resize must be stretch, center_crop or pad, not {other}"))),
    };
    let scale = parse_f32("scale", descriptor.scale)?.unwrap_or(1.0);
    let mean = match json_text("mean").or(descriptor.mean.clone()) {
        Some(value) => parse_numbers(name, "mean", &value)?,
        None => [0.0; 3],
    };
    let std = match json_text("std").or(descriptor.std.clone()) {
        Some(value) => parse_numbers(name, "std", &value)?,
        None => [1.0; 3],
    };
    if std.iter().any(|s| *s == 0.0 || !s.is_finite()) || !scale.is_finite() || mean.iter().any(|m| !m.is_finite()) {
        return Err(FeaturesError::model(name, "scale, mean and std must be finite and std non-zero"));
    }
    let features_dim = match settings.get("features_dim") {
        Some(v) => Some(
            v.trim()
                .parse::<usize>()
                .ok()
                .filter(|d| *d > 0)
                .ok_or_else(|| FeaturesError::model(name, format!("features_dim must be a positive whole number, not '{v}'")))?,
        ),
        None => descriptor.features_dim,
    };
    let classes_uri = text("classes").or(descriptor.classes.clone());
    Ok(ModelSpec {
        name: name.to_owned(),
        model_uri,
        sha256: descriptor.sha256.clone(),
        input: text("input").or(descriptor.input.clone()),
        preprocess: Preprocess { width, height, layout, resize, scale, mean, std },
        features_output: text("features_output").or(descriptor.features_output.clone()),
        features_dim,
        logits_output: text("logits_output").or(descriptor.logits_output.clone()),
        classes_uri,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::config::ExtensionOptions;

    fn config(pairs: &[(&str, &str)]) -> datafusion::error::Result<VergerConfig> {
        let mut config = VergerConfig::default();
        for (key, value) in pairs {
            config.set(key, value)?;
        }
        Ok(config)
    }

    #[test]
    fn settings_override_the_descriptor() -> std::result::Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        std::fs::write(
            dir.path().join("model.json"),
            r#"{"model": "net.onnx", "input_size": 224, "mean": [127, 127, 127], "std": 128, "features_dim": 1280, "classes": "names.txt"}"#,
        )?;
        let uri = dir.path().display().to_string();
        let config = config(&[("model.mine.uri", &uri), ("model.mine.input_size", "320x240"), ("model.mine.resize", "pad")])?;
        let spec = resolve_model("mine", &config, &ConfigOptions::new())?;
        assert_eq!(spec.model_uri, format!("{uri}/net.onnx"));
        assert_eq!(spec.classes_uri, Some(format!("{uri}/names.txt")));
        assert_eq!((spec.preprocess.width, spec.preprocess.height), (320, 240));
        assert_eq!(spec.preprocess.mean, [127.0; 3]);
        assert_eq!(spec.preprocess.std, [128.0; 3]);
        assert_eq!(spec.preprocess.resize, ResizeMode::Pad { fill: 255 });
        assert_eq!(spec.features_dim, Some(1280));
        Ok(())
    }

    #[test]
    fn bad_registrations_are_explained() -> std::result::Result<(), Box<dyn std::error::Error>> {
        let options = ConfigOptions::new();
        let unknown = resolve_model("nope", &VergerConfig::default(), &options).map_err(|e| e.to_string());
        assert!(unknown.as_ref().is_err_and(|e| e.contains("SET verger.model.nope.uri")), "{unknown:?}");
        let bad_std = config(&[("model.m.uri", "/x/m.onnx"), ("model.m.std", "0")])?;
        assert!(resolve_model("m", &bad_std, &options).is_err());
        let bad_mean = config(&[("model.m.uri", "/x/m.onnx"), ("model.m.mean", "1,2")])?;
        assert!(resolve_model("m", &bad_mean, &options).is_err());
        let missing = config(&[("model.m.uri", "/does/not/exist/")])?;
        let error = resolve_model("m", &missing, &options).map_err(|e| e.to_string());
        assert!(error.as_ref().is_err_and(|e| e.contains("/does/not/exist/model.json")), "{error:?}");
        Ok(())
    }
}
