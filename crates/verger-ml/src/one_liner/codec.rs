//! Byte encodings of the materialisation nodes for the hops of a distributed query
//! (client → scheduler: the logical nodes; scheduler → executors: the plans). Each starts
//! with its own tag so that a codec chain can tell it from anything else.

use super::materialize::{MaterializeWrite, MaterializeWriteExec};
use super::read::{MaterializeRead, MaterializeReadExec};
use super::release::{MaterializeRelease, MaterializeReleaseExec};
use crate::error::MlError;
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::common::{DFSchema, Result, TableReference};
use datafusion::logical_expr::{Extension, LogicalPlan};
use datafusion::physical_plan::ExecutionPlan;
use std::sync::Arc;

const WRITE_NODE_TAG: &[u8] = b"verger.materialize.write.v1\0";
const READ_NODE_TAG: &[u8] = b"verger.materialize.read.v2\0";
const RELEASE_NODE_TAG: &[u8] = b"verger.materialize.release.v1\0";
const WRITE_EXEC_TAG: &[u8] = b"verger.materialize.write_exec.v1\0";
const READ_EXEC_TAG: &[u8] = b"verger.materialize.read_exec.v2\0";
const RELEASE_EXEC_TAG: &[u8] = b"verger.materialize.release_exec.v1\0";

#[derive(serde::Serialize, serde::Deserialize)]
struct Node {
    id: String,
    dir: String,
    /// Read side only: the schema of the materialised rows as an Arrow IPC stream, and each
    /// field's qualifier.
    schema: Option<Vec<u8>>,
    qualifiers: Vec<Option<String>>,
    /// Read side: reader slots; write side: parts in all.
    slots: usize,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ReleaseNode {
    ids: Vec<String>,
    dir: String,
}

fn codec_error(message: impl Into<String>) -> datafusion::error::DataFusionError {
    MlError::Materialize(format!("codec: {}", message.into())).into()
}

fn encode<T: serde::Serialize>(tag: &[u8], node: &T, buf: &mut Vec<u8>) -> Result<()> {
    buf.extend_from_slice(tag);
    serde_json::to_writer(buf, node).map_err(|e| codec_error(e.to_string()))
}

fn decode<T: serde::de::DeserializeOwned>(tag: &[u8], buf: &[u8]) -> Option<Result<T>> {
    let body = buf.strip_prefix(tag)?;
    Some(serde_json::from_slice(body).map_err(|e| codec_error(e.to_string())))
}

fn schema_bytes(schema: &Schema) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    StreamWriter::try_new(&mut bytes, schema)?.finish()?;
    Ok(bytes)
}

fn schema_from(node: &Node) -> Result<SchemaRef> {
    let bytes = node.schema.as_deref().ok_or_else(|| codec_error("the read node has no schema"))?;
    Ok(StreamReader::try_new(bytes, None)?.schema())
}

fn one_input<'a, T>(inputs: &'a [T], what: &str) -> Result<&'a T> {
    match inputs {
        [input] => Ok(input),
        _ => Err(codec_error(format!("{what} takes one input, got {}", inputs.len()))),
    }
}

/// Encodes a materialisation logical node; `None` when `node` is something else.
pub fn encode_logical(node: &Extension, buf: &mut Vec<u8>) -> Option<Result<()>> {
    let any = node.node.as_any();
    if let Some(write) = any.downcast_ref::<MaterializeWrite>() {
        let body = Node { id: write.id.clone(), dir: write.dir.clone(), schema: None, qualifiers: Vec::new(), slots: 0 };
        return Some(encode(WRITE_NODE_TAG, &body, buf));
    }
    if let Some(read) = any.downcast_ref::<MaterializeRead>() {
        let encoded = schema_bytes(read.rows.as_arrow()).and_then(|schema| {
            let qualifiers = read.rows.iter().map(|(q, _)| q.map(|q| q.to_string())).collect();
            encode(READ_NODE_TAG, &Node { id: read.id.clone(), dir: read.dir.clone(), schema: Some(schema), qualifiers, slots: 0 }, buf)
        });
        return Some(encoded);
    }
    if let Some(release) = any.downcast_ref::<MaterializeRelease>() {
        return Some(encode(RELEASE_NODE_TAG, &ReleaseNode { ids: release.ids.clone(), dir: release.dir.clone() }, buf));
    }
    None
}

/// Decodes a materialisation logical node; `None` when `buf` is something else.
pub fn decode_logical(buf: &[u8], inputs: &[LogicalPlan]) -> Option<Result<Extension>> {
    if let Some(node) = decode::<Node>(WRITE_NODE_TAG, buf) {
        return Some(node.and_then(|node| {
            let input = one_input(inputs, "MaterializeWrite")?.clone();
            Ok(Extension { node: Arc::new(MaterializeWrite { input, id: node.id, dir: node.dir }) })
        }));
    }
    if let Some(node) = decode::<ReleaseNode>(RELEASE_NODE_TAG, buf) {
        return Some(node.and_then(|node| {
            let input = one_input(inputs, "MaterializeRelease")?.clone();
            Ok(Extension { node: Arc::new(MaterializeRelease { input, ids: node.ids, dir: node.dir }) })
        }));
    }
    decode::<Node>(READ_NODE_TAG, buf).map(|node| {
        let node = node?;
        let models = one_input(inputs, "MaterializeRead")?.clone();
        let schema = schema_from(&node)?;
        let qualifiers: Vec<Option<TableReference>> = node.qualifiers.iter().map(|q| q.as_deref().map(TableReference::from)).collect();
        let rows = DFSchema::from_field_specific_qualified_schema(qualifiers, &schema)?;
        Ok(Extension { node: Arc::new(MaterializeRead::try_new(models, node.id, node.dir, Arc::new(rows))?) })
    })
}

/// Encodes a materialisation plan; `None` when `plan` is something else.
pub fn encode_physical(plan: &Arc<dyn ExecutionPlan>, buf: &mut Vec<u8>) -> Option<Result<()>> {
    if let Some(write) = plan.downcast_ref::<MaterializeWriteExec>() {
        let body =
            Node { id: write.id().to_owned(), dir: write.dir().to_owned(), schema: None, qualifiers: Vec::new(), slots: write.total() };
        return Some(encode(WRITE_EXEC_TAG, &body, buf));
    }
    if let Some(read) = plan.downcast_ref::<MaterializeReadExec>() {
        let encoded = schema_bytes(read.rows_schema()).and_then(|schema| {
            let body = Node {
                id: read.id().to_owned(),
                dir: read.dir().to_owned(),
                schema: Some(schema),
                qualifiers: Vec::new(),
                slots: read.slots(),
            };
            encode(READ_EXEC_TAG, &body, buf)
        });
        return Some(encoded);
    }
    if let Some(release) = plan.downcast_ref::<MaterializeReleaseExec>() {
        return Some(encode(RELEASE_EXEC_TAG, &ReleaseNode { ids: release.ids().to_vec(), dir: release.dir().to_owned() }, buf));
    }
    None
}

/// Decodes a materialisation plan; `None` when `buf` is something else. Decoded plans run
/// on a cluster executor: see [`super::lease`] and [`super::release`].
pub fn decode_physical(buf: &[u8], inputs: &[Arc<dyn ExecutionPlan>]) -> Option<Result<Arc<dyn ExecutionPlan>>> {
    if let Some(node) = decode::<Node>(WRITE_EXEC_TAG, buf) {
        return Some(node.and_then(|node| {
            let [input, slots] = inputs else { return Err(codec_error("MaterializeWriteExec takes an input and its slots")) };
            let exec = MaterializeWriteExec::with_slots(Arc::clone(input), Arc::clone(slots), node.slots, node.id, node.dir)?;
            Ok(Arc::new(exec) as Arc<dyn ExecutionPlan>)
        }));
    }
    if let Some(node) = decode::<ReleaseNode>(RELEASE_EXEC_TAG, buf) {
        return Some(node.and_then(|node| {
            let input = Arc::clone(one_input(inputs, "MaterializeReleaseExec")?);
            Ok(Arc::new(MaterializeReleaseExec::decoded(input, node.ids, node.dir)) as Arc<dyn ExecutionPlan>)
        }));
    }
    decode::<Node>(READ_EXEC_TAG, buf).map(|node| {
        let node = node?;
        let [models, slot_input] = inputs else { return Err(codec_error("MaterializeReadExec takes the models and its slots")) };
        let rows = schema_from(&node)?;
        let exec = MaterializeReadExec::with_children(node.id, node.dir, rows, node.slots, Arc::clone(models), Arc::clone(slot_input));
        Ok(Arc::new(exec) as Arc<dyn ExecutionPlan>)
    })
}

/// The one-liners' nodes as a codec, for verger-cluster's composition.
pub const ONE_LINER_CODEC: verger_codec::NodeCodec =
    verger_codec::NodeCodec { name: "one-liner codec", encode_logical, decode_logical, encode_physical, decode_physical };

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::{DataType, Field};
    use datafusion::catalog::memory::MemorySourceConfig;
    use datafusion::logical_expr::{LogicalPlanBuilder, col, lit};
    use datafusion::physical_plan::displayable;

    fn rows_schema() -> Result<DFSchema> {
        let schema = Schema::new(vec![Field::new("path", DataType::Utf8, false), Field::new("__fit_input_0", DataType::Float32, true)]);
        DFSchema::from_field_specific_qualified_schema(vec![Some(TableReference::from("images")), None], &Arc::new(schema))
    }

    fn models() -> Result<LogicalPlan> {
        LogicalPlanBuilder::values(vec![vec![lit(1i32)]])?.project(vec![col("column1").alias("__fit_model_1")])?.build()
    }

    fn round_trip_logical(node: Arc<dyn datafusion::logical_expr::UserDefinedLogicalNode>, inputs: &[LogicalPlan]) -> Result<Extension> {
        let mut buf = Vec::new();
        encode_logical(&Extension { node }, &mut buf).ok_or_else(|| codec_error("not encoded"))??;
        decode_logical(&buf, inputs).ok_or_else(|| codec_error("not decoded"))?
    }

    fn round_trip_physical(plan: Arc<dyn ExecutionPlan>) -> Result<()> {
        let mut buf = Vec::new();
        encode_physical(&plan, &mut buf).ok_or_else(|| codec_error("not encoded"))??;
        let children: Vec<Arc<dyn ExecutionPlan>> = plan.children().into_iter().cloned().collect();
        let decoded = decode_physical(&buf, &children).ok_or_else(|| codec_error("not decoded"))??;
        let shown = |plan: &Arc<dyn ExecutionPlan>| displayable(plan.as_ref()).indent(true).to_string();
        assert_eq!(shown(&decoded), shown(&plan));
        assert_eq!(decoded.schema(), plan.schema());
        Ok(())
    }

    #[test]
    fn the_read_node_keeps_its_rows_schema_qualifiers_and_models() -> Result<()> {
        let node = MaterializeRead::try_new(models()?, "q".to_owned(), "s3://b/tmp".to_owned(), Arc::new(rows_schema()?))?;
        assert_eq!(node.schema.fields().len(), 3, "the rows, then the model");
        let decoded = round_trip_logical(Arc::new(node.clone()), std::slice::from_ref(&node.models))?;
        let decoded = decoded.node.as_any().downcast_ref::<MaterializeRead>().cloned().ok_or_else(|| codec_error("other node"))?;
        assert_eq!(decoded, node);
        assert!(decode_logical(b"something else", &[]).is_none());
        Ok(())
    }

    #[test]
    fn the_release_node_keeps_its_ids() -> Result<()> {
        let node = MaterializeRelease { input: models()?, ids: vec!["a-1-0".to_owned(), "a-1-1".to_owned()], dir: String::new() };
        let decoded = round_trip_logical(Arc::new(node.clone()), std::slice::from_ref(&node.input))?;
        let decoded = decoded.node.as_any().downcast_ref::<MaterializeRelease>().cloned().ok_or_else(|| codec_error("other node"))?;
        assert_eq!(decoded, node);
        Ok(())
    }

    #[test]
    fn the_plans_round_trip() -> Result<()> {
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int32, false)]));
        let source = || MemorySourceConfig::try_new_exec(&[vec![], vec![]], Arc::clone(&schema), None);
        let write = Arc::new(MaterializeWriteExec::try_new(source()?, "w".to_owned(), "/tmp/m".to_owned())?);
        round_trip_physical(write)?;
        let read = Arc::new(MaterializeReadExec::try_new("r".to_owned(), "/tmp/m".to_owned(), Arc::clone(&schema), source()?, 3)?);
        round_trip_physical(read)?;
        let release = Arc::new(MaterializeReleaseExec::try_new(source()?, vec!["r".to_owned()], "/tmp/m".to_owned())?);
        round_trip_physical(release)?;
        Ok(())
    }
}
