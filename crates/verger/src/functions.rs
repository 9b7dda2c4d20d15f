//! Function names must be unique in a session for the session to be rebuilt faithfully.
//!
//! DataFusion registers an alias as one more key; rebuilding a state
//! (`SessionStateBuilder::new_from_existing`, which Ballista's scheduler does for every job)
//! re-registers the functions in hash order, so when two functions claim one name the winner
//! is random. DataFusion's `map_extract` claims `element_at`, Spark's name. verger therefore
//! drops, from the functions it replaces, every name it defines itself.

use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{Result, ScalarValue};
use datafusion::config::ConfigOptions;
use datafusion::logical_expr::interval_arithmetic::Interval;
use datafusion::logical_expr::preimage::PreimageResult;
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::sort_properties::{ExprProperties, SortProperties};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, Expr, ExpressionPlacement, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    StructFieldMapping,
};
use std::collections::HashSet;
use std::sync::Arc;

/// `inner` under its own name, with the aliases in `dropped` removed.
#[derive(Debug, PartialEq, Eq, Hash)]
struct WithoutAliases {
    inner: Arc<ScalarUDF>,
    aliases: Vec<String>,
}

impl WithoutAliases {
    fn wrap(inner: Arc<ScalarUDF>, dropped: &HashSet<String>) -> Arc<ScalarUDF> {
        let aliases: Vec<String> = inner.aliases().iter().filter(|a| !dropped.contains(*a)).cloned().collect();
        if aliases.len() == inner.aliases().len() {
            return inner;
        }
        Arc::new(ScalarUDF::new_from_impl(WithoutAliases { inner, aliases }))
    }

    fn implementation(&self) -> &Arc<dyn ScalarUDFImpl> {
        self.inner.inner()
    }
}

impl ScalarUDFImpl for WithoutAliases {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn aliases(&self) -> &[String] {
        &self.aliases
    }
    fn schema_name(&self, args: &[Expr]) -> Result<String> {
        self.implementation().schema_name(args)
    }
    fn signature(&self) -> &Signature {
        self.inner.signature()
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.implementation().return_type(arg_types)
    }
    fn with_updated_config(&self, config: &ConfigOptions) -> Option<ScalarUDF> {
        let updated = self.implementation().with_updated_config(config)?;
        Some(ScalarUDF::new_from_impl(WithoutAliases { inner: Arc::new(updated), aliases: self.aliases.clone() }))
    }
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        self.implementation().return_field_from_args(args)
    }
    fn is_strict(&self) -> bool {
        self.implementation().is_strict()
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        self.implementation().invoke_with_args(args)
    }
    fn simplify(&self, args: Vec<Expr>, info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        self.implementation().simplify(args, info)
    }
    fn preimage(&self, args: &[Expr], lit_expr: &Expr, info: &SimplifyContext) -> Result<PreimageResult> {
        self.implementation().preimage(args, lit_expr, info)
    }
    fn short_circuits(&self) -> bool {
        self.implementation().short_circuits()
    }
    fn conditional_arguments<'a>(&self, args: &'a [Expr]) -> Option<(Vec<&'a Expr>, Vec<&'a Expr>)> {
        self.implementation().conditional_arguments(args)
    }
    fn evaluate_bounds(&self, input: &[&Interval]) -> Result<Interval> {
        self.implementation().evaluate_bounds(input)
    }
    fn propagate_constraints(&self, interval: &Interval, inputs: &[&Interval]) -> Result<Option<Vec<Interval>>> {
        self.implementation().propagate_constraints(interval, inputs)
    }
    fn output_ordering(&self, inputs: &[ExprProperties]) -> Result<SortProperties> {
        self.implementation().output_ordering(inputs)
    }
    fn preserves_lex_ordering(&self, inputs: &[ExprProperties]) -> Result<bool> {
        self.implementation().preserves_lex_ordering(inputs)
    }
    fn strictly_order_preserving(&self, inputs: &[ExprProperties]) -> Result<bool> {
        self.implementation().strictly_order_preserving(inputs)
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.implementation().coerce_types(arg_types)
    }
    fn struct_field_mapping(&self, literal_args: &[Option<ScalarValue>]) -> Option<StructFieldMapping> {
        self.implementation().struct_field_mapping(literal_args)
    }
    fn documentation(&self) -> Option<&Documentation> {
        self.implementation().documentation()
    }
    fn placement(&self, args: &[ExpressionPlacement]) -> ExpressionPlacement {
        self.implementation().placement(args)
    }
}

/// `base` with `overrides` on top, every name claimed once: functions of `base` named like an
/// override are left out, and aliases of `base` naming an override are dropped.
pub(crate) fn merge_functions(base: Vec<Arc<ScalarUDF>>, overrides: Vec<Arc<ScalarUDF>>) -> Vec<Arc<ScalarUDF>> {
    let claimed: HashSet<String> =
        overrides.iter().flat_map(|f| std::iter::once(f.name().to_owned()).chain(f.aliases().iter().cloned())).collect();
    let mut merged: Vec<Arc<ScalarUDF>> =
        base.into_iter().filter(|f| !claimed.contains(f.name())).map(|f| WithoutAliases::wrap(f, &claimed)).collect();
    merged.extend(overrides);
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::execution::SessionStateBuilder;
    use datafusion::execution::SessionStateDefaults;
    use datafusion::prelude::SessionContext;

    #[test]
    fn every_name_is_claimed_once() {
        let merged = merge_functions(SessionStateDefaults::default_scalar_functions(), crate::scalar_functions());
        let mut seen = HashSet::new();
        for function in &merged {
            for name in std::iter::once(function.name()).chain(function.aliases().iter().map(String::as_str)) {
                assert!(seen.insert(name.to_owned()), "{name} is claimed twice");
            }
        }
        assert!(seen.contains("map_extract"), "map_extract is kept under its own name");
    }

    #[test]
    fn a_rebuilt_session_keeps_sparks_element_at() -> Result<()> {
        let ctx = crate::session_context()?;
        for _ in 0..20 {
            let rebuilt = SessionStateBuilder::new_from_existing(ctx.state()).build();
            let rebuilt = SessionContext::new_with_state(rebuilt);
            assert_eq!(rebuilt.state().scalar_functions().get("element_at").map(|f| f.name().to_owned()), Some("element_at".to_owned()));
        }
        Ok(())
    }
}
