//! Naming the file in image errors.
//!
//! An image function sees only the bytes, yet an error must name the file. When the bytes
//! are a column whose table also has a `path` column (binaryFile's), this analyzer rule
//! passes that path along as a last, hidden argument: `image_features(content)` becomes
//! `image_features(content, NULL, path)`, keeping its output name. Projection pushdown then
//! reads `path` too (a short string per file). The rewrite happens on the client, so the
//! plan a cluster receives already carries it; a plan that is analysed again is unchanged.

use crate::functions::{IMAGE_FUNCTIONS, MODEL_FUNCTIONS};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, DFSchema, Result, ScalarValue};
use datafusion::config::ConfigOptions;
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::optimizer::AnalyzerRule;

pub const PATH_RULE_NAME: &str = "verger_image_path";

#[derive(Debug, Default)]
pub struct ImagePathRule;

impl AnalyzerRule for ImagePathRule {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(rewrite_node).map(|t| t.data)
    }

    fn name(&self) -> &str {
        PATH_RULE_NAME
    }
}

fn rewrite_node(node: LogicalPlan) -> Result<Transformed<LogicalPlan>> {
    let inputs = node.inputs();
    let [input] = inputs.as_slice() else {
        return Ok(Transformed::no(node));
    };
    let schema = std::sync::Arc::clone(input.schema());
    let names = NamePreserver::new(&node);
    node.map_expressions(|expr| {
        let saved = names.save(&expr);
        let rewritten = expr.transform_up(|e| add_path(e, &schema))?;
        Ok(rewritten.update_data(|e| saved.restore(e)))
    })
}

fn add_path(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let Expr::ScalarFunction(call) = &expr else {
        return Ok(Transformed::no(expr));
    };
    let name = call.func.name();
    if !IMAGE_FUNCTIONS.contains(&name) {
        return Ok(Transformed::no(expr));
    }
    let takes_model = MODEL_FUNCTIONS.contains(&name);
    let complete = if takes_model { 3 } else { 2 };
    let Some(Expr::Column(content)) = call.args.first() else {
        return Ok(Transformed::no(expr));
    };
    if call.args.len() >= complete {
        return Ok(Transformed::no(expr));
    }
    let path = Column::new(content.relation.clone(), "path");
    let is_path = schema
        .qualified_field_from_column(&path)
        .map(|(_, f)| f)
        .is_ok_and(|f| matches!(f.data_type(), DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View));
    if !is_path || content.name == "path" {
        return Ok(Transformed::no(expr));
    }
    let mut args = call.args.clone();
    if takes_model && args.len() == 1 {
        args.push(Expr::Literal(ScalarValue::Utf8(None), None));
    }
    args.push(Expr::Column(path));
    Ok(Transformed::yes(Expr::ScalarFunction(ScalarFunction::new_udf(std::sync::Arc::clone(&call.func), args))))
}
