//! verger's codecs on a cluster: each crate's codec for its own nodes, composed, in front of
//! Ballista's (shuffle readers and writers, DataFusion's file formats…).
//!
//! What verger's composition wrote starts with [`VERGER_TAG`]; anything else is Ballista's, as
//! Ballista itself wrote it, so that Ballista's own paths read it unchanged.

use ballista_core::serde::{BallistaLogicalExtensionCodec, BallistaPhysicalExtensionCodec};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::TableProvider;
use datafusion::common::TableReference;
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::error::Result;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Extension, LogicalPlan, ScalarUDF};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::{ComposedPhysicalExtensionCodec, PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use std::sync::Arc;
use verger_binaryfile::BinaryFileCodec;
use verger_codec::{ComposedLogicalCodec, is_not_mine};
use verger_ml::one_liner::codec::ONE_LINER_CODEC;
use verger_parquet::codec::PARQUET_OUTPUT_CODEC;
use verger_spark::range::SparkRangeCodec;

use crate::shadowed::{decode_shadowed_builtin, encode_shadowed_builtin};

/// A function call's definition: a shadowed DataFusion builtin's mark, else `otherwise`'s.
fn decode_udf(name: &str, buf: &[u8], otherwise: impl FnOnce() -> Result<Arc<ScalarUDF>>) -> Result<Arc<ScalarUDF>> {
    match buf.strip_prefix(VERGER_TAG).and_then(|body| decode_shadowed_builtin(name, body)) {
        Some(builtin) => Ok(builtin),
        None => otherwise(),
    }
}

/// Marks a shadowed DataFusion builtin; any other function is `otherwise`'s to encode.
fn encode_udf(node: &ScalarUDF, buf: &mut Vec<u8>, otherwise: impl FnOnce(&mut Vec<u8>) -> Result<()>) -> Result<()> {
    if encode_shadowed_builtin(node, VERGER_TAG, buf) { Ok(()) } else { otherwise(buf) }
}

/// Marks an encoding by verger's composed codecs.
pub const VERGER_TAG: &[u8] = b"verger\0";

/// Every crate's codec, in a fixed order (it is part of the encoding: append new ones).
fn logical_codecs() -> ComposedLogicalCodec {
    ComposedLogicalCodec::new(vec![
        Arc::new(BinaryFileCodec),
        Arc::new(ONE_LINER_CODEC),
        Arc::new(PARQUET_OUTPUT_CODEC),
        Arc::new(SparkRangeCodec),
    ])
}

fn physical_codecs() -> ComposedPhysicalExtensionCodec {
    ComposedPhysicalExtensionCodec::new(vec![
        Arc::new(BinaryFileCodec),
        Arc::new(ONE_LINER_CODEC),
        Arc::new(PARQUET_OUTPUT_CODEC),
        Arc::new(SparkRangeCodec),
    ])
}

/// verger's encoding of a node, tagged; `None` when no verger codec has it.
fn encode_tagged(buf: &mut Vec<u8>, encode: impl FnOnce(&mut Vec<u8>) -> Result<()>) -> Option<Result<()>> {
    let mut body = Vec::new();
    match encode(&mut body) {
        Ok(()) => {
            buf.extend_from_slice(VERGER_TAG);
            buf.extend_from_slice(&body);
            Some(Ok(()))
        }
        Err(error) if is_not_mine(&error) => None,
        Err(error) => Some(Err(error)),
    }
}

/// Logical codec of verger's tables and plan nodes; everything else goes to Ballista's codec.
#[derive(Debug)]
pub struct VergerLogicalCodec {
    verger: ComposedLogicalCodec,
    ballista: BallistaLogicalExtensionCodec,
}

impl Default for VergerLogicalCodec {
    fn default() -> Self {
        Self { verger: logical_codecs(), ballista: BallistaLogicalExtensionCodec::default() }
    }
}

impl LogicalExtensionCodec for VergerLogicalCodec {
    fn try_decode(&self, buf: &[u8], inputs: &[LogicalPlan], ctx: &TaskContext) -> Result<Extension> {
        match buf.strip_prefix(VERGER_TAG) {
            Some(body) => self.verger.try_decode(body, inputs, ctx),
            None => self.ballista.try_decode(buf, inputs, ctx),
        }
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        encode_tagged(buf, |body| self.verger.try_encode(node, body)).unwrap_or_else(|| self.ballista.try_encode(node, buf))
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        match buf.strip_prefix(VERGER_TAG) {
            Some(body) => self.verger.try_decode_table_provider(body, table_ref, schema, ctx),
            None => self.ballista.try_decode_table_provider(buf, table_ref, schema, ctx),
        }
    }

    fn try_encode_table_provider(&self, table_ref: &TableReference, node: Arc<dyn TableProvider>, buf: &mut Vec<u8>) -> Result<()> {
        encode_tagged(buf, |body| self.verger.try_encode_table_provider(table_ref, Arc::clone(&node), body))
            .unwrap_or_else(|| self.ballista.try_encode_table_provider(table_ref, node, buf))
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        decode_udf(name, buf, || self.ballista.try_decode_udf(name, buf))
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        encode_udf(node, buf, |buf| self.ballista.try_encode_udf(node, buf))
    }

    fn try_decode_file_format(&self, buf: &[u8], ctx: &TaskContext) -> Result<Arc<dyn FileFormatFactory>> {
        self.ballista.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(&self, buf: &mut Vec<u8>, node: Arc<dyn FileFormatFactory>) -> Result<()> {
        self.ballista.try_encode_file_format(buf, node)
    }
}

/// Physical codec of verger's execution plans; everything else goes to Ballista's codec.
#[derive(Debug)]
pub struct VergerPhysicalCodec {
    verger: ComposedPhysicalExtensionCodec,
    ballista: BallistaPhysicalExtensionCodec,
}

impl Default for VergerPhysicalCodec {
    fn default() -> Self {
        Self { verger: physical_codecs(), ballista: BallistaPhysicalExtensionCodec::default() }
    }
}

impl PhysicalExtensionCodec for VergerPhysicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match buf.strip_prefix(VERGER_TAG) {
            Some(body) => self.verger.try_decode(body, inputs, ctx, proto_converter),
            None => self.ballista.try_decode(buf, inputs, ctx, proto_converter),
        }
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        encode_tagged(buf, |body| self.verger.try_encode(Arc::clone(&node), body, proto_converter))
            .unwrap_or_else(|| self.ballista.try_encode(node, buf, proto_converter))
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        decode_udf(name, buf, || self.ballista.try_decode_udf(name, buf))
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        encode_udf(node, buf, |buf| self.ballista.try_encode_udf(node, buf))
    }
}
