//! Byte encodings of the committed write's nodes for the hops of a distributed query
//! (client → scheduler: the logical node; scheduler → executors: the plans). Each starts
//! with its own tag so that a codec chain can tell it from anything else.

use crate::commit::ParquetCommitExec;
use crate::error::OutputError;
use crate::node::CommittedWrite;
use crate::options::WriteOptions;
use crate::writer::ParquetPartWriterExec;
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::common::Result;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{Extension, LogicalPlan};
use datafusion::physical_plan::ExecutionPlan;
use std::sync::Arc;
use verger_storage::StorageLocation;

const WRITE_NODE_TAG: &[u8] = b"verger.parquet.committed_write.v1\0";
const WRITER_EXEC_TAG: &[u8] = b"verger.parquet.part_writer_exec.v1\0";
const COMMIT_EXEC_TAG: &[u8] = b"verger.parquet.commit_exec.v1\0";

#[derive(serde::Serialize, serde::Deserialize)]
struct Node {
    output: StorageLocation,
    job_id: String,
    options: WriteOptions,
    started_at_ms: i64,
    /// Commit only: the data's schema as an Arrow IPC stream, for an empty output's file.
    schema: Option<Vec<u8>>,
}

fn codec_error(message: impl Into<String>) -> DataFusionError {
    OutputError::Plan { location: "(codec)".to_owned(), message: message.into() }.into()
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
    let bytes = node.schema.as_deref().ok_or_else(|| codec_error("the commit has no schema"))?;
    Ok(StreamReader::try_new(bytes, None)?.schema())
}

fn one_input<T: Clone>(inputs: &[T], what: &str) -> Result<T> {
    match inputs {
        [input] => Ok(input.clone()),
        _ => Err(codec_error(format!("{what} takes one input"))),
    }
}

/// Encodes a committed-write logical node; `None` when `node` is something else.
pub fn encode_logical(node: &Extension, buf: &mut Vec<u8>) -> Option<Result<()>> {
    let write = node.node.as_any().downcast_ref::<CommittedWrite>()?;
    let body = Node {
        output: write.output.clone(),
        job_id: write.job_id.clone(),
        options: write.options.clone(),
        started_at_ms: write.started_at_ms,
        schema: None,
    };
    Some(encode(WRITE_NODE_TAG, &body, buf))
}

/// Decodes a committed-write logical node; `None` when `buf` is something else.
pub fn decode_logical(buf: &[u8], inputs: &[LogicalPlan]) -> Option<Result<Extension>> {
    decode(WRITE_NODE_TAG, buf).map(|node| {
        let node = node?;
        let input = one_input(inputs, "a committed write")?;
        let write = CommittedWrite::new(input, node.output, node.options, node.job_id, node.started_at_ms)?;
        Ok(Extension { node: Arc::new(write) })
    })
}

/// Encodes a part writer or commit plan; `None` when `plan` is something else.
pub fn encode_physical(plan: &Arc<dyn ExecutionPlan>, buf: &mut Vec<u8>) -> Option<Result<()>> {
    if let Some(writer) = plan.downcast_ref::<ParquetPartWriterExec>() {
        let body = Node {
            output: writer.output().clone(),
            job_id: writer.job_id().to_owned(),
            options: writer.options().clone(),
            started_at_ms: 0,
            schema: None,
        };
        return Some(encode(WRITER_EXEC_TAG, &body, buf));
    }
    let commit = plan.downcast_ref::<ParquetCommitExec>()?;
    Some(schema_bytes(commit.data_schema()).and_then(|schema| {
        let body = Node {
            output: commit.output().clone(),
            job_id: commit.job_id().to_owned(),
            options: commit.options().clone(),
            started_at_ms: commit.started_at_ms(),
            schema: Some(schema),
        };
        encode(COMMIT_EXEC_TAG, &body, buf)
    }))
}

/// Decodes a part writer or commit plan; `None` when `buf` is something else.
pub fn decode_physical(buf: &[u8], inputs: &[Arc<dyn ExecutionPlan>]) -> Option<Result<Arc<dyn ExecutionPlan>>> {
    if let Some(node) = decode(WRITER_EXEC_TAG, buf) {
        return Some(node.and_then(|node| {
            let input = one_input(inputs, "the part writer")?;
            Ok(Arc::new(ParquetPartWriterExec::new(input, node.output, node.job_id, node.options)) as Arc<dyn ExecutionPlan>)
        }));
    }
    decode(COMMIT_EXEC_TAG, buf).map(|node| {
        let node = node?;
        let input = one_input(inputs, "the commit")?;
        let schema = schema_from(&node)?;
        Ok(Arc::new(ParquetCommitExec::new(input, node.output, node.job_id, node.options, schema, node.started_at_ms))
            as Arc<dyn ExecutionPlan>)
    })
}

/// The committed write, its part writers and its commit as a codec, for verger-cluster's
/// composition.
pub const PARQUET_OUTPUT_CODEC: verger_codec::NodeCodec =
    verger_codec::NodeCodec { name: "Parquet output codec", encode_logical, decode_logical, encode_physical, decode_physical };
