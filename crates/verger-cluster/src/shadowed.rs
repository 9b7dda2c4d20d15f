//! DataFusion's own functions whose names Spark's functions take over.
//!
//! A plan names its functions, and the decoding side looks the name up in its registry, where
//! Spark's `date_trunc` (datafusion-spark) stands in the place of DataFusion's. That is right for
//! what the user wrote, but some Spark functions *simplify into* DataFusion's function of the same
//! name (Spark's `date_trunc` and `trunc` become DataFusion's `date_trunc`, Spark's `date_part`
//! DataFusion's `date_part`): by name alone, the scheduler and the executors would read the
//! simplified call back as the Spark one, which cannot run unsimplified. So a call to a shadowed
//! DataFusion function carries a marker, and decoding takes DataFusion's own function for it.

use datafusion::logical_expr::ScalarUDF;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

/// The encoding of "DataFusion's own function of this name", after verger's tag.
const BUILTIN_MARK: &[u8] = b"datafusion-builtin";

/// DataFusion's functions whose name (or alias) one of Spark's also has, by name.
static SHADOWED: LazyLock<HashMap<String, Arc<ScalarUDF>>> = LazyLock::new(|| {
    let spark_names: Vec<String> = verger_spark::all_spark_functions()
        .iter()
        .flat_map(|function| std::iter::once(function.name().to_string()).chain(function.aliases().iter().cloned()))
        .collect();
    datafusion::functions::all_default_functions()
        .into_iter()
        .filter(|builtin| spark_names.iter().any(|name| name == builtin.name()))
        .map(|builtin| (builtin.name().to_string(), builtin))
        .collect()
});

/// Writes the marker (after `tag`) when `function` is DataFusion's own and Spark's shadows it;
/// says whether it did.
pub(crate) fn encode_shadowed_builtin(function: &ScalarUDF, tag: &[u8], buf: &mut Vec<u8>) -> bool {
    let shadowed = SHADOWED.get(function.name()).is_some_and(|builtin| builtin.as_ref() == function);
    if shadowed {
        buf.extend_from_slice(tag);
        buf.extend_from_slice(BUILTIN_MARK);
    }
    shadowed
}

/// DataFusion's own function for a marked call (`body` is what followed the tag), if it is one.
pub(crate) fn decode_shadowed_builtin(name: &str, body: &[u8]) -> Option<Arc<ScalarUDF>> {
    (body == BUILTIN_MARK).then(|| SHADOWED.get(name).cloned()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spark_date_trunc_shadows_datafusion_s() {
        let builtin = datafusion::functions::datetime::date_trunc();
        let mut buf = Vec::new();
        assert!(encode_shadowed_builtin(&builtin, b"t", &mut buf));
        assert_eq!(buf, b"tdatafusion-builtin");
        let decoded = decode_shadowed_builtin("date_trunc", &buf[1..]);
        assert!(decoded.is_some_and(|decoded| decoded.as_ref() == builtin.as_ref()));
    }

    #[test]
    fn spark_s_own_and_unshadowed_functions_go_by_name() {
        let spark_date_trunc = verger_spark::all_spark_functions().into_iter().find(|f| f.name() == "date_trunc");
        let Some(spark_date_trunc) = spark_date_trunc else { panic!("datafusion-spark has date_trunc") };
        let mut buf = Vec::new();
        encode_shadowed_builtin(&spark_date_trunc, b"t", &mut buf);
        encode_shadowed_builtin(&datafusion::functions::string::lower(), b"t", &mut buf);
        assert!(buf.is_empty());
        assert!(decode_shadowed_builtin("lower", BUILTIN_MARK).is_none());
    }
}
