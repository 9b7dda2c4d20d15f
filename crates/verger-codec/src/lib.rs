//! How verger's plan nodes cross a cluster's hops (client → scheduler: logical nodes and
//! tables; scheduler → executors: execution plans).
//!
//! Each crate with nodes of its own implements DataFusion's `LogicalExtensionCodec` and/or
//! `PhysicalExtensionCodec` for them, encoding a node as a JSON body ([`encode_json`]) and
//! answering [`not_mine`] for any other node. verger-cluster composes those codecs — DataFusion's
//! `ComposedPhysicalExtensionCodec` for plans, [`ComposedLogicalCodec`] for logical nodes and
//! tables — so that the position of the codec that wrote a body travels with it, and no crate
//! needs tags of its own.

mod composed;
mod node_codec;

pub use composed::ComposedLogicalCodec;
pub use node_codec::NodeCodec;

use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::error::{DataFusionError, Result};

/// The answer of a crate's codec to a node that is not one of its own: the composition then
/// asks the next codec.
pub fn not_mine(codec: &str) -> DataFusionError {
    DataFusionError::NotImplemented(format!("{codec}: not one of its nodes"))
}

/// Whether `error` is [`not_mine`]'s (or any codec's "cannot encode this" answer).
pub fn is_not_mine(error: &DataFusionError) -> bool {
    matches!(error, DataFusionError::NotImplemented(_))
}

/// Appends `node` to `buf` as JSON.
pub fn encode_json<T: serde::Serialize>(codec: &str, node: &T, buf: &mut Vec<u8>) -> Result<()> {
    serde_json::to_writer(buf, node).map_err(|e| DataFusionError::Internal(format!("{codec}: cannot encode a node: {e}")))
}

/// The node that [`encode_json`] wrote in `buf`.
pub fn decode_json<T: serde::de::DeserializeOwned>(codec: &str, buf: &[u8]) -> Result<T> {
    serde_json::from_slice(buf).map_err(|e| DataFusionError::Internal(format!("{codec}: cannot decode a node: {e}")))
}

/// `schema` as an Arrow IPC stream with no batches: field metadata and nesting survive.
pub fn schema_to_bytes(schema: &Schema) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    StreamWriter::try_new(&mut bytes, schema)?.finish()?;
    Ok(bytes)
}

/// The schema [`schema_to_bytes`] wrote.
pub fn schema_from_bytes(bytes: &[u8]) -> Result<SchemaRef> {
    Ok(StreamReader::try_new(bytes, None)?.schema())
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::{DataType, Field};
    use std::collections::HashMap;

    #[test]
    fn schemas_and_nodes_round_trip() -> Result<()> {
        let field = Field::new("features", DataType::new_fixed_size_list(DataType::Float32, 1280, false), true)
            .with_metadata(HashMap::from([("k".to_owned(), "v".to_owned())]));
        let schema = Schema::new(vec![field, Field::new("label", DataType::Utf8, true)]);
        assert_eq!(schema_from_bytes(&schema_to_bytes(&schema)?)?.as_ref(), &schema);

        let mut buf = Vec::new();
        encode_json("test", &("a".to_owned(), 7u32), &mut buf)?;
        assert_eq!(decode_json::<(String, u32)>("test", &buf)?, ("a".to_owned(), 7));
        assert!(decode_json::<(String, u32)>("test", b"{").is_err());
        assert!(is_not_mine(&not_mine("test")));
        Ok(())
    }
}
