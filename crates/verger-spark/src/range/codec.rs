//! [`SparkRangeCodec`]: a range's table (client → scheduler) and its scan (scheduler →
//! executors) across a cluster's hops, composed with the other crates' codecs by verger-cluster.

use super::{RangeExec, SparkRange};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::TableProvider;
use datafusion::common::{TableReference, internal_err};
use datafusion::error::Result;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Extension, LogicalPlan};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use std::sync::Arc;
use verger_codec::{decode_json, encode_json, not_mine};

const CODEC: &str = "range codec";

#[derive(serde::Serialize, serde::Deserialize)]
struct ScanNode {
    range: SparkRange,
    with_id: bool,
}

/// Encodes [`SparkRange`] and [`RangeExec`]; "not mine" for anything else.
#[derive(Debug, Default)]
pub struct SparkRangeCodec;

impl LogicalExtensionCodec for SparkRangeCodec {
    fn try_decode(&self, _buf: &[u8], _inputs: &[LogicalPlan], _ctx: &TaskContext) -> Result<Extension> {
        Err(not_mine(CODEC))
    }

    fn try_encode(&self, _node: &Extension, _buf: &mut Vec<u8>) -> Result<()> {
        Err(not_mine(CODEC))
    }

    fn try_decode_table_provider(&self, buf: &[u8], _: &TableReference, _: SchemaRef, _: &TaskContext) -> Result<Arc<dyn TableProvider>> {
        let range: SparkRange = decode_json(CODEC, buf)?;
        Ok(Arc::new(SparkRange::try_new(range.start, range.end, range.step, range.partitions)?))
    }

    fn try_encode_table_provider(&self, _: &TableReference, node: Arc<dyn TableProvider>, buf: &mut Vec<u8>) -> Result<()> {
        let range = node.downcast_ref::<SparkRange>().ok_or_else(|| not_mine(CODEC))?;
        encode_json(CODEC, range, buf)
    }
}

impl PhysicalExtensionCodec for SparkRangeCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        _ctx: &TaskContext,
        _proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if !inputs.is_empty() {
            return internal_err!("{CODEC}: a range scan has no inputs, got {}", inputs.len());
        }
        let node: ScanNode = decode_json(CODEC, buf)?;
        let SparkRange { start, end, step, partitions } = node.range;
        Ok(Arc::new(RangeExec::new(SparkRange::try_new(start, end, step, partitions)?, node.with_id)))
    }

    fn try_encode(&self, node: Arc<dyn ExecutionPlan>, buf: &mut Vec<u8>, _: &dyn PhysicalProtoConverterExtension) -> Result<()> {
        let scan = node.downcast_ref::<RangeExec>().ok_or_else(|| not_mine(CODEC))?;
        encode_json(CODEC, &ScanNode { range: *scan.range(), with_id: scan.with_id() }, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::SessionContext;
    use datafusion_proto::physical_plan::DefaultPhysicalProtoConverter;

    #[test]
    fn tables_and_scans_round_trip() -> Result<()> {
        let ctx = SessionContext::new().task_ctx();
        let range = SparkRange::try_new(3, -20, -4, 3)?;
        let mut buf = Vec::new();
        SparkRangeCodec.try_encode_table_provider(&TableReference::bare("r"), Arc::new(range), &mut buf)?;
        let table = SparkRangeCodec.try_decode_table_provider(&buf, &TableReference::bare("r"), range.schema(), &ctx)?;
        assert_eq!(table.downcast_ref::<SparkRange>(), Some(&range));

        let mut buf = Vec::new();
        let scan: Arc<dyn ExecutionPlan> = Arc::new(RangeExec::new(range, false));
        PhysicalExtensionCodec::try_encode(&SparkRangeCodec, scan, &mut buf, &DefaultPhysicalProtoConverter {})?;
        let back = PhysicalExtensionCodec::try_decode(&SparkRangeCodec, &buf, &[], &ctx, &DefaultPhysicalProtoConverter {})?;
        let back = back.downcast_ref::<RangeExec>().map(|s| (*s.range(), s.with_id()));
        assert_eq!(back, Some((range, false)));
        Ok(())
    }
}
