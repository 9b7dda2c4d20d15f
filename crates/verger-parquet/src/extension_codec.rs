//! [`ParquetOutputCodec`]: the committed Parquet output's nodes across a cluster's hops, composed with the
//! other crates' codecs by verger-cluster.

use crate::codec::{decode_logical, decode_physical, encode_logical, encode_physical};
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
use verger_codec::not_mine;

const CODEC: &str = "Parquet output codec";

/// Encodes the committed write, its part writers and its commit; "not mine" for anything else.
#[derive(Debug, Default)]
pub struct ParquetOutputCodec;

impl LogicalExtensionCodec for ParquetOutputCodec {
    fn try_decode(&self, buf: &[u8], inputs: &[LogicalPlan], _ctx: &TaskContext) -> Result<Extension> {
        decode_logical(buf, inputs).unwrap_or_else(|| Err(not_mine(CODEC)))
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        encode_logical(node, buf).unwrap_or_else(|| Err(not_mine(CODEC)))
    }

    fn try_decode_table_provider(&self, _: &[u8], _: &TableReference, _: SchemaRef, _: &TaskContext) -> Result<Arc<dyn TableProvider>> {
        Err(not_mine(CODEC))
    }

    fn try_encode_table_provider(&self, _: &TableReference, _: Arc<dyn TableProvider>, _: &mut Vec<u8>) -> Result<()> {
        Err(not_mine(CODEC))
    }
}

impl PhysicalExtensionCodec for ParquetOutputCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        _ctx: &TaskContext,
        _proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        decode_physical(buf, inputs).unwrap_or_else(|| Err(not_mine(CODEC)))
    }

    fn try_encode(&self, node: Arc<dyn ExecutionPlan>, buf: &mut Vec<u8>, _: &dyn PhysicalProtoConverterExtension) -> Result<()> {
        encode_physical(&node, buf).unwrap_or_else(|| Err(not_mine(CODEC)))
    }
}
