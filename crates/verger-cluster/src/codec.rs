use ballista_core::serde::{BallistaLogicalExtensionCodec, BallistaPhysicalExtensionCodec};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::TableProvider;
use datafusion::common::TableReference;
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::error::Result;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Extension, LogicalPlan};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use std::sync::Arc;
use verger_binaryfile::{BinaryFileScanExec, BinaryFileTable, codec};
use verger_ml::one_liner::codec as one_liner_codec;
use verger_parquet::codec as parquet_codec;

/// Logical codec of verger's sources and plan nodes; everything else goes to Ballista's codec.
#[derive(Debug, Default)]
pub struct VergerLogicalCodec {
    ballista: BallistaLogicalExtensionCodec,
}

impl LogicalExtensionCodec for VergerLogicalCodec {
    fn try_decode(&self, buf: &[u8], inputs: &[LogicalPlan], ctx: &TaskContext) -> Result<Extension> {
        if let Some(node) = one_liner_codec::decode_logical(buf, inputs) {
            return node;
        }
        if let Some(node) = parquet_codec::decode_logical(buf, inputs) {
            return node;
        }
        self.ballista.try_decode(buf, inputs, ctx)
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        if let Some(encoded) = one_liner_codec::encode_logical(node, buf) {
            return encoded;
        }
        if let Some(encoded) = parquet_codec::encode_logical(node, buf) {
            return encoded;
        }
        self.ballista.try_encode(node, buf)
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        // Tagged encodings are tried first: Ballista's codec would try any bytes.
        if let Some(table) = codec::decode_table(buf) {
            return Ok(Arc::new(table?));
        }
        self.ballista.try_decode_table_provider(buf, table_ref, schema, ctx)
    }

    fn try_encode_table_provider(&self, table_ref: &TableReference, node: Arc<dyn TableProvider>, buf: &mut Vec<u8>) -> Result<()> {
        if let Some(table) = node.downcast_ref::<BinaryFileTable>() {
            return codec::encode_table(table, buf);
        }
        self.ballista.try_encode_table_provider(table_ref, node, buf)
    }

    fn try_decode_file_format(&self, buf: &[u8], ctx: &TaskContext) -> Result<Arc<dyn FileFormatFactory>> {
        self.ballista.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(&self, buf: &mut Vec<u8>, node: Arc<dyn FileFormatFactory>) -> Result<()> {
        self.ballista.try_encode_file_format(buf, node)
    }
}

/// Physical codec of verger's execution plans; everything else goes to Ballista's codec.
#[derive(Debug, Default)]
pub struct VergerPhysicalCodec {
    ballista: BallistaPhysicalExtensionCodec,
}

impl PhysicalExtensionCodec for VergerPhysicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if let Some(scan) = codec::decode_scan(buf, inputs) {
            return Ok(Arc::new(scan?));
        }
        if let Some(plan) = one_liner_codec::decode_physical(buf, inputs) {
            return plan;
        }
        if let Some(plan) = parquet_codec::decode_physical(buf, inputs) {
            return plan;
        }
        self.ballista.try_decode(buf, inputs, ctx, proto_converter)
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        if let Some(scan) = node.downcast_ref::<BinaryFileScanExec>() {
            return codec::encode_scan(scan, buf);
        }
        if let Some(encoded) = one_liner_codec::encode_physical(&node, buf) {
            return encoded;
        }
        if let Some(encoded) = parquet_codec::encode_physical(&node, buf) {
            return encoded;
        }
        self.ballista.try_encode(node, buf, proto_converter)
    }
}
