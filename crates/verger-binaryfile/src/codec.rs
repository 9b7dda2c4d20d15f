//! [`BinaryFileCodec`]: the binaryFile table (client → scheduler) and its scan (scheduler →
//! executors) across a cluster's hops, composed with the other crates' codecs by verger-cluster.

use crate::exec::BinaryFileScanExec;
use crate::partition::PartitionColumn;
use crate::{BinaryFileError, BinaryFileOptions, BinaryFileTable};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::TableProvider;
use datafusion::common::TableReference;
use datafusion::error::Result;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Extension, LogicalPlan};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use std::sync::Arc;
use verger_codec::{decode_json, encode_json, not_mine};
use verger_storage::StorageLocation;

const CODEC: &str = "binaryFile codec";

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

/// Encodes [`BinaryFileTable`] and [`BinaryFileScanExec`]; "not mine" for anything else.
#[derive(Debug, Default)]
pub struct BinaryFileCodec;

impl LogicalExtensionCodec for BinaryFileCodec {
    fn try_decode(&self, _buf: &[u8], _inputs: &[LogicalPlan], _ctx: &TaskContext) -> Result<Extension> {
        Err(not_mine(CODEC))
    }

    fn try_encode(&self, _node: &Extension, _buf: &mut Vec<u8>) -> Result<()> {
        Err(not_mine(CODEC))
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        _table_ref: &TableReference,
        _schema: SchemaRef,
        _ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        let node: TableNode = decode_json(CODEC, buf)?;
        Ok(Arc::new(BinaryFileTable::from_parts(node.location, node.options, node.partition_columns)))
    }

    fn try_encode_table_provider(&self, _table_ref: &TableReference, node: Arc<dyn TableProvider>, buf: &mut Vec<u8>) -> Result<()> {
        let table = node.downcast_ref::<BinaryFileTable>().ok_or_else(|| not_mine(CODEC))?;
        let node = TableNode {
            location: table.location().clone(),
            options: table.options().clone(),
            partition_columns: table.partition_columns().to_vec(),
        };
        encode_json(CODEC, &node, buf)
    }
}

impl PhysicalExtensionCodec for BinaryFileCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        _ctx: &TaskContext,
        _proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let node: ScanNode = decode_json(CODEC, buf)?;
        let [input] = inputs else {
            return Err(BinaryFileError::Codec(format!("a binaryFile scan has one input, got {}", inputs.len())).into());
        };
        Ok(Arc::new(BinaryFileScanExec::try_new(node.location, node.partition_columns, node.projection, Arc::clone(input))?))
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        _proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        let scan = node.downcast_ref::<BinaryFileScanExec>().ok_or_else(|| not_mine(CODEC))?;
        let node = ScanNode {
            location: scan.location().clone(),
            partition_columns: scan.partition_columns().to_vec(),
            projection: scan.projection().to_vec(),
        };
        encode_json(CODEC, &node, buf)
    }
}
