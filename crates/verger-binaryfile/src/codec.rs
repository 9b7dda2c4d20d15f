//! Byte encodings of the binaryFile table and scan, for the hops of a distributed query
//! (client → scheduler: the table; scheduler → executors: the scan). Each encoding starts
//! with its own tag so that a codec chain can tell it from anything else.

use crate::exec::BinaryFileScanExec;
use crate::partition::PartitionColumn;
use crate::{BinaryFileError, BinaryFileOptions, BinaryFileTable};
use datafusion::error::Result;
use datafusion::physical_plan::ExecutionPlan;
use std::sync::Arc;
use verger_storage::StorageLocation;

const TABLE_TAG: &[u8] = b"verger.binaryfile.table.v1\0";
const SCAN_TAG: &[u8] = b"verger.binaryfile.scan.v1\0";

#[derive(serde::Serialize, serde::Deserialize)]
struct TableNode {
    location: StorageLocation,
    options: BinaryFileOptions,
    partition_columns: Vec<PartitionColumn>,
}

/// The scan without its input: the file list travels as an ordinary child plan.
#[derive(serde::Serialize, serde::Deserialize)]
struct ScanNode {
    location: StorageLocation,
    partition_columns: Vec<PartitionColumn>,
    projection: Vec<usize>,
}

fn encode<T: serde::Serialize>(tag: &[u8], node: &T, buf: &mut Vec<u8>) -> Result<()> {
    buf.extend_from_slice(tag);
    serde_json::to_writer(buf, node).map_err(|e| BinaryFileError::Codec(e.to_string()))?;
    Ok(())
}

fn decode<T: serde::de::DeserializeOwned>(tag: &[u8], buf: &[u8]) -> Option<Result<T>> {
    let body = buf.strip_prefix(tag)?;
    Some(serde_json::from_slice(body).map_err(|e| BinaryFileError::Codec(e.to_string()).into()))
}

pub fn encode_table(table: &BinaryFileTable, buf: &mut Vec<u8>) -> Result<()> {
    let node = TableNode {
        location: table.location().clone(),
        options: table.options().clone(),
        partition_columns: table.partition_columns().to_vec(),
    };
    encode(TABLE_TAG, &node, buf)
}

/// `None` when `buf` is not a binaryFile table.
pub fn decode_table(buf: &[u8]) -> Option<Result<BinaryFileTable>> {
    decode::<TableNode>(TABLE_TAG, buf).map(|node| node.map(|n| BinaryFileTable::from_parts(n.location, n.options, n.partition_columns)))
}

pub fn encode_scan(scan: &BinaryFileScanExec, buf: &mut Vec<u8>) -> Result<()> {
    let node = ScanNode {
        location: scan.location().clone(),
        partition_columns: scan.partition_columns().to_vec(),
        projection: scan.projection().to_vec(),
    };
    encode(SCAN_TAG, &node, buf)
}

/// `None` when `buf` is not a binaryFile scan; `input` is its decoded file list.
pub fn decode_scan(buf: &[u8], inputs: &[Arc<dyn ExecutionPlan>]) -> Option<Result<BinaryFileScanExec>> {
    decode::<ScanNode>(SCAN_TAG, buf).map(|node| {
        let node = node?;
        let [input] = inputs else {
            return Err(BinaryFileError::Codec(format!("a binaryFile scan has one input, got {}", inputs.len())).into());
        };
        BinaryFileScanExec::try_new(node.location, node.partition_columns, node.projection, Arc::clone(input))
    })
}
