//! The declared outputs of an ONNX model, read from its protobuf without starting ONNX Runtime.
//!
//! Planning `image_features(content, 'm')` needs the length of the features vector. When the
//! registration and the descriptor do not give it, it is the last dimension of the feature
//! output in the graph's signature. Clients and schedulers plan but never run a model, so they
//! read that signature here (a protobuf decode of the file, weights skipped by length) instead of
//! loading ONNX Runtime and opening sessions.

use crate::error::{FeaturesError, Result};
use crate::io::read_bytes;
use crate::spec::ModelSpec;
use datafusion::config::ConfigOptions;
use prost::Message;
use std::collections::HashMap;
use std::sync::Mutex;

/// `onnx.ModelProto`, only the graph.
#[derive(Clone, PartialEq, Message)]
struct ModelProto {
    #[prost(message, optional, tag = "7")]
    graph: Option<GraphProto>,
}

/// `onnx.GraphProto`, only its outputs; nodes and initializers are skipped as unknown fields.
#[derive(Clone, PartialEq, Message)]
struct GraphProto {
    #[prost(message, repeated, tag = "12")]
    output: Vec<ValueInfoProto>,
}

#[derive(Clone, PartialEq, Message)]
struct ValueInfoProto {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, optional, tag = "2")]
    r#type: Option<TypeProto>,
}

#[derive(Clone, PartialEq, Message)]
struct TypeProto {
    #[prost(message, optional, tag = "1")]
    tensor_type: Option<TensorTypeProto>,
}

#[derive(Clone, PartialEq, Message)]
struct TensorTypeProto {
    #[prost(message, optional, tag = "2")]
    shape: Option<TensorShapeProto>,
}

#[derive(Clone, PartialEq, Message)]
struct TensorShapeProto {
    #[prost(message, repeated, tag = "1")]
    dim: Vec<Dimension>,
}

/// A dimension is a number (`dim_value`) or a symbol (`dim_param`, e.g. the batch size).
#[derive(Clone, PartialEq, Message)]
struct Dimension {
    #[prost(int64, optional, tag = "1")]
    dim_value: Option<i64>,
    #[prost(string, optional, tag = "2")]
    dim_param: Option<String>,
}

/// An output of the graph: its name and dimensions (`None` for a symbolic one).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GraphOutput {
    pub name: String,
    pub dims: Vec<Option<i64>>,
}

/// The outputs `bytes` (an ONNX model file) declares.
pub(crate) fn graph_outputs(bytes: &[u8]) -> std::result::Result<Vec<GraphOutput>, String> {
    let model = ModelProto::decode(bytes).map_err(|e| format!("not an ONNX model: {e}"))?;
    let graph = model.graph.ok_or("not an ONNX model: it has no graph")?;
    Ok(graph
        .output
        .into_iter()
        .map(|output| {
            let dims = output
                .r#type
                .and_then(|t| t.tensor_type)
                .and_then(|t| t.shape)
                .map(|shape| shape.dim.into_iter().map(|d| d.dim_value.filter(|_| d.dim_param.is_none())).collect())
                .unwrap_or_default();
            GraphOutput { name: output.name, dims }
        })
        .collect())
}

/// The features output `spec` names, else one named `features`, else the first — the choice
/// the loaded model makes (model.rs).
fn features_output<'a>(spec: &ModelSpec, outputs: &'a [GraphOutput]) -> Result<&'a GraphOutput> {
    let names = || outputs.iter().map(|o| o.name.as_str()).collect::<Vec<_>>().join(", ");
    match &spec.features_output {
        Some(name) => outputs
            .iter()
            .find(|o| &o.name == name)
            .ok_or_else(|| FeaturesError::model(&spec.name, format!("has no output named '{name}' (outputs: {})", names()))),
        None => outputs
            .iter()
            .find(|o| o.name == "features")
            .or_else(|| outputs.first())
            .ok_or_else(|| FeaturesError::model(&spec.name, "has no output")),
    }
}

/// Feature lengths read by this process, by model file.
static INSPECTED: Mutex<Option<HashMap<String, usize>>> = Mutex::new(None);

/// The length of `spec`'s feature vector from its graph's declared output shape, read once
/// per process and model file.
pub(crate) fn declared_features_dim(spec: &ModelSpec, options: &ConfigOptions) -> Result<usize> {
    if let Ok(cache) = INSPECTED.lock()
        && let Some(dim) = cache.as_ref().and_then(|c| c.get(&spec.model_uri))
    {
        return Ok(*dim);
    }
    let bytes = read_bytes(&spec.model_uri, options)?;
    let outputs = graph_outputs(&bytes).map_err(|reason| FeaturesError::Read { uri: spec.model_uri.clone(), reason })?;
    let output = features_output(spec, &outputs)?;
    let dim = output.dims.last().copied().flatten().and_then(|d| usize::try_from(d).ok()).filter(|d| *d > 0).ok_or_else(|| {
        FeaturesError::model(
            &spec.name,
            format!(
                "the length of output '{}' is not fixed in the model (shape {:?}); SET verger.model.{}.features_dim",
                output.name, output.dims, spec.name
            ),
        )
    })?;
    if let Ok(mut cache) = INSPECTED.lock() {
        cache.get_or_insert_with(HashMap::new).insert(spec.model_uri.clone(), dim);
    }
    Ok(dim)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model_with_outputs(outputs: Vec<ValueInfoProto>) -> Vec<u8> {
        ModelProto { graph: Some(GraphProto { output: outputs }) }.encode_to_vec()
    }

    fn output(name: &str, dims: &[Dimension]) -> ValueInfoProto {
        ValueInfoProto {
            name: name.to_owned(),
            r#type: Some(TypeProto { tensor_type: Some(TensorTypeProto { shape: Some(TensorShapeProto { dim: dims.to_vec() }) }) }),
        }
    }

    fn fixed(value: i64) -> Dimension {
        Dimension { dim_value: Some(value), dim_param: None }
    }

    fn symbol(name: &str) -> Dimension {
        Dimension { dim_value: None, dim_param: Some(name.to_owned()) }
    }

    #[test]
    fn outputs_and_their_shapes_are_read() -> std::result::Result<(), String> {
        let bytes =
            model_with_outputs(vec![output("logits", &[symbol("N"), fixed(1000)]), output("features", &[symbol("N"), fixed(1280)])]);
        let outputs = graph_outputs(&bytes)?;
        assert_eq!(outputs.len(), 2);
        assert_eq!(outputs[1], GraphOutput { name: "features".into(), dims: vec![None, Some(1280)] });
        Ok(())
    }

    #[test]
    fn garbage_is_not_a_model() {
        assert!(graph_outputs(b"\xff\xff\xff not protobuf").is_err());
        assert!(graph_outputs(&[]).is_err_and(|e| e.contains("no graph")));
    }
}
