//! [`ComposedLogicalCodec`]: the logical counterpart of DataFusion's
//! `ComposedPhysicalExtensionCodec`, which DataFusion 55 ships for plans only.

use crate::is_not_mine;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::TableProvider;
use datafusion::common::{TableReference, internal_err, not_impl_err};
use datafusion::error::Result;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Extension, LogicalPlan};
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use std::sync::Arc;

/// Tries its codecs in order and prefixes what one of them wrote with its position (one byte),
/// which decoding reads to ask that codec again. A codec answering "not mine" (a
/// `NotImplemented` error) passes the node on to the next; any other error is the answer.
/// File formats are not composed: the default codec's answer for them is not an error.
#[derive(Debug)]
pub struct ComposedLogicalCodec {
    codecs: Vec<Arc<dyn LogicalExtensionCodec>>,
}

impl ComposedLogicalCodec {
    /// At most 256 codecs; their order is part of the encoding, so add new ones at the end.
    pub fn new(codecs: Vec<Arc<dyn LogicalExtensionCodec>>) -> Self {
        Self { codecs }
    }

    fn encode(&self, buf: &mut Vec<u8>, mut encode: impl FnMut(&dyn LogicalExtensionCodec, &mut Vec<u8>) -> Result<()>) -> Result<()> {
        for (position, codec) in self.codecs.iter().enumerate() {
            let mut body = Vec::new();
            match encode(codec.as_ref(), &mut body) {
                Ok(()) => {
                    let Ok(position) = u8::try_from(position) else {
                        return internal_err!("a composed codec holds at most 256 codecs");
                    };
                    buf.push(position);
                    buf.extend_from_slice(&body);
                    return Ok(());
                }
                Err(error) if is_not_mine(&error) => {}
                Err(error) => return Err(error),
            }
        }
        not_impl_err!("no composed codec encodes this node")
    }

    fn decode<R>(&self, buf: &[u8], decode: impl FnOnce(&dyn LogicalExtensionCodec, &[u8]) -> Result<R>) -> Result<R> {
        let Some((position, body)) = buf.split_first() else {
            return internal_err!("an empty encoding has no codec position");
        };
        match self.codecs.get(usize::from(*position)) {
            Some(codec) => decode(codec.as_ref(), body),
            None => internal_err!("codec position {position} of {} composed codecs", self.codecs.len()),
        }
    }
}

impl LogicalExtensionCodec for ComposedLogicalCodec {
    fn try_decode(&self, buf: &[u8], inputs: &[LogicalPlan], ctx: &TaskContext) -> Result<Extension> {
        self.decode(buf, |codec, body| codec.try_decode(body, inputs, ctx))
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        self.encode(buf, |codec, body| codec.try_encode(node, body))
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        self.decode(buf, |codec, body| codec.try_decode_table_provider(body, table_ref, schema, ctx))
    }

    fn try_encode_table_provider(&self, table_ref: &TableReference, node: Arc<dyn TableProvider>, buf: &mut Vec<u8>) -> Result<()> {
        self.encode(buf, |codec, body| codec.try_encode_table_provider(table_ref, Arc::clone(&node), body))
    }
}
