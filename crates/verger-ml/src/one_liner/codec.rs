//! Byte encodings of the materialisation nodes for the hops of a distributed query
//! (client → scheduler: the logical nodes; scheduler → executors: the plans). Each starts
//! with its own tag so that a codec chain can tell it from anything else.

use super::materialize::{MaterializeRead, MaterializeReadExec, MaterializeWrite, MaterializeWriteExec};
use crate::error::MlError;
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::common::{DFSchema, Result, TableReference};
use datafusion::logical_expr::{Extension, LogicalPlan};
use datafusion::physical_plan::ExecutionPlan;
use std::sync::Arc;

const WRITE_NODE_TAG: &[u8] = b"verger.materialize.write.v1\0";
const READ_NODE_TAG: &[u8] = b"verger.materialize.read.v1\0";
const WRITE_EXEC_TAG: &[u8] = b"verger.materialize.write_exec.v1\0";
const READ_EXEC_TAG: &[u8] = b"verger.materialize.read_exec.v1\0";

#[derive(serde::Serialize, serde::Deserialize)]
struct Node {
    id: String,
    dir: String,
    /// Read side only: the schema as an Arrow IPC stream, and each field's qualifier.
    schema: Option<Vec<u8>>,
    qualifiers: Vec<Option<String>>,
    /// Read side: reader slots; write side: parts in all.
    slots: usize,
}

fn codec_error(message: impl Into<String>) -> datafusion::error::DataFusionError {
    MlError::Materialize(format!("codec: {}", message.into())).into()
}

fn encode(tag: &[u8], node: &Node, buf: &mut Vec<u8>) -> Result<()> {
    buf.extend_from_slice(tag);
    serde_json::to_writer(buf, node).map_err(|e| codec_error(e.to_string()))
}

fn decode(tag: &[u8], buf: &[u8]) -> Option<Result<Node>> {
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

/// Encodes a materialisation logical node; `None` when `node` is something else.
pub fn encode_logical(node: &Extension, buf: &mut Vec<u8>) -> Option<Result<()>> {
    let any = node.node.as_any();
    if let Some(write) = any.downcast_ref::<MaterializeWrite>() {
        let body = Node { id: write.id.clone(), dir: write.dir.clone(), schema: None, qualifiers: Vec::new(), slots: 0 };
        return Some(encode(WRITE_NODE_TAG, &body, buf));
    }
    if let Some(read) = any.downcast_ref::<MaterializeRead>() {
        let encoded = schema_bytes(read.schema.as_arrow()).and_then(|schema| {
            let qualifiers = read.schema.iter().map(|(q, _)| q.map(|q| q.to_string())).collect();
            encode(READ_NODE_TAG, &Node { id: read.id.clone(), dir: read.dir.clone(), schema: Some(schema), qualifiers, slots: 0 }, buf)
        });
        return Some(encoded);
    }
    None
}

/// Decodes a materialisation logical node; `None` when `buf` is something else.
pub fn decode_logical(buf: &[u8], inputs: &[LogicalPlan]) -> Option<Result<Extension>> {
    if let Some(node) = decode(WRITE_NODE_TAG, buf) {
        return Some(node.and_then(|node| {
            let [input] = inputs else { return Err(codec_error("MaterializeWrite takes one input")) };
            Ok(Extension { node: Arc::new(MaterializeWrite { input: input.clone(), id: node.id, dir: node.dir }) })
        }));
    }
    decode(READ_NODE_TAG, buf).map(|node| {
        let node = node?;
        let schema = schema_from(&node)?;
        let qualifiers: Vec<Option<TableReference>> = node.qualifiers.iter().map(|q| q.as_deref().map(TableReference::from)).collect();
        let schema = DFSchema::from_field_specific_qualified_schema(qualifiers, &schema)?;
        Ok(Extension { node: Arc::new(MaterializeRead { id: node.id, dir: node.dir, schema: Arc::new(schema) }) })
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
        let encoded = schema_bytes(&read.schema()).and_then(|schema| {
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
    None
}

/// Decodes a materialisation plan; `None` when `buf` is something else.
pub fn decode_physical(buf: &[u8], inputs: &[Arc<dyn ExecutionPlan>]) -> Option<Result<Arc<dyn ExecutionPlan>>> {
    if let Some(node) = decode(WRITE_EXEC_TAG, buf) {
        return Some(node.and_then(|node| {
            let [input, slots] = inputs else { return Err(codec_error("MaterializeWriteExec takes an input and its slots")) };
            let exec = MaterializeWriteExec::with_slots(Arc::clone(input), Arc::clone(slots), node.slots, node.id, node.dir)?;
            Ok(Arc::new(exec) as Arc<dyn ExecutionPlan>)
        }));
    }
    decode(READ_EXEC_TAG, buf).map(|node| {
        let node = node?;
        let [input] = inputs else { return Err(codec_error("MaterializeReadExec takes one input")) };
        let schema = schema_from(&node)?;
        Ok(Arc::new(MaterializeReadExec::with_input(node.id, node.dir, schema, node.slots, Arc::clone(input))?) as Arc<dyn ExecutionPlan>)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::{DataType, Field};

    #[test]
    fn the_read_node_keeps_its_schema_and_qualifiers() -> Result<()> {
        let schema = Schema::new(vec![Field::new("path", DataType::Utf8, false), Field::new("__fit_input_0", DataType::Float32, true)]);
        let qualified =
            DFSchema::from_field_specific_qualified_schema(vec![Some(TableReference::from("images")), None], &Arc::new(schema))?;
        let node = MaterializeRead { id: "q".to_owned(), dir: "s3://b/tmp".to_owned(), schema: Arc::new(qualified) };
        let mut buf = Vec::new();
        encode_logical(&Extension { node: Arc::new(node.clone()) }, &mut buf).ok_or_else(|| codec_error("not encoded"))??;
        let decoded = decode_logical(&buf, &[]).ok_or_else(|| codec_error("not decoded"))??;
        let decoded = decoded.node.as_any().downcast_ref::<MaterializeRead>().cloned().ok_or_else(|| codec_error("other node"))?;
        assert_eq!(decoded, node);
        assert!(decode_logical(b"something else", &[]).is_none());
        Ok(())
    }
}
