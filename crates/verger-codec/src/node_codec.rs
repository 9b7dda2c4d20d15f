//! [`NodeCodec`]: a crate's plan nodes as DataFusion codecs, from the crate's own encode and
//! decode functions (each answering `None` for a node that is not its own).

use crate::not_mine;
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

/// Encodes a crate's logical node; `None` when the node is not one of its own.
pub type EncodeLogical = fn(&Extension, &mut Vec<u8>) -> Option<Result<()>>;
/// Decodes a crate's logical node; `None` when the bytes are not one of its own.
pub type DecodeLogical = fn(&[u8], &[LogicalPlan]) -> Option<Result<Extension>>;
/// Encodes a crate's execution plan; `None` when the plan is not one of its own.
pub type EncodePhysical = fn(&Arc<dyn ExecutionPlan>, &mut Vec<u8>) -> Option<Result<()>>;
/// Decodes a crate's execution plan; `None` when the bytes are not one of its own.
pub type DecodePhysical = fn(&[u8], &[Arc<dyn ExecutionPlan>]) -> Option<Result<Arc<dyn ExecutionPlan>>>;

/// One crate's logical nodes and execution plans; "not mine" for anything else, tables
/// included.
#[derive(Debug, Clone, Copy)]
pub struct NodeCodec {
    pub name: &'static str,
    pub encode_logical: EncodeLogical,
    pub decode_logical: DecodeLogical,
    pub encode_physical: EncodePhysical,
    pub decode_physical: DecodePhysical,
}

impl LogicalExtensionCodec for NodeCodec {
    fn try_decode(&self, buf: &[u8], inputs: &[LogicalPlan], _ctx: &TaskContext) -> Result<Extension> {
        (self.decode_logical)(buf, inputs).unwrap_or_else(|| Err(not_mine(self.name)))
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        (self.encode_logical)(node, buf).unwrap_or_else(|| Err(not_mine(self.name)))
    }

    fn try_decode_table_provider(&self, _: &[u8], _: &TableReference, _: SchemaRef, _: &TaskContext) -> Result<Arc<dyn TableProvider>> {
        Err(not_mine(self.name))
    }

    fn try_encode_table_provider(&self, _: &TableReference, _: Arc<dyn TableProvider>, _: &mut Vec<u8>) -> Result<()> {
        Err(not_mine(self.name))
    }
}

impl PhysicalExtensionCodec for NodeCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        _ctx: &TaskContext,
        _proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        (self.decode_physical)(buf, inputs).unwrap_or_else(|| Err(not_mine(self.name)))
    }

    fn try_encode(&self, node: Arc<dyn ExecutionPlan>, buf: &mut Vec<u8>, _: &dyn PhysicalProtoConverterExtension) -> Result<()> {
        (self.encode_physical)(&node, buf).unwrap_or_else(|| Err(not_mine(self.name)))
    }
}
