//! [`FitTransformRule`]: plans each one-liner (`pca(features, k)`) as a fit and a transform.
//!
//! ```text
//! SELECT label, pca(f(x), k) AS p FROM t
//!
//! Projection: label, pca_transform(__fit_input_0, __fit_model_0) AS p
//!   Inner Join: __fit_key = __rows_key                       ← the model, broadcast
//!     Projection: verger_broadcast_model(…) AS __fit_model_0, verger_broadcast_key(…) AS __fit_key
//!       Aggregate: pca_fit(__fit_input_0, k)                 ← two-phase fit
//!         MaterializeWrite                                   ← f(x) computed here, once
//!           Projection: label, f(x) AS __fit_input_0
//!             TableScan: t
//!     Projection: label, __fit_input_0, 0 AS __rows_key
//!       MaterializeRead                                      ← …and read back here
//! ```
//!
//! The join's build side is one row, so DataFusion and Ballista run it as a broadcast
//! (CollectLeft) join; the model travels dictionary-encoded, one 4-byte key per row. When the
//! input is only columns of a table (nothing computed), it is read twice instead of
//! materialised. Nested one-liners are planned innermost first.

use super::functions::{BROADCAST_KEY, BROADCAST_MODEL, OneLinerSpec, one_liner};
use super::materialize::{MaterializeRead, MaterializeWrite, new_materialize_id};
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, Result, plan_datafusion_err, plan_err};
use datafusion::config::ConfigOptions;
use datafusion::logical_expr::expr::{AggregateFunction, ScalarFunction};
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::{Expr, Extension, JoinType, LogicalPlan, LogicalPlanBuilder, Projection, col, lit};
use datafusion::optimizer::AnalyzerRule;
use std::collections::BTreeSet;
use std::sync::Arc;
use verger_config::VergerConfig;

pub const FIT_TRANSFORM_RULE_NAME: &str = "verger_fit_transform";

/// See the module documentation. Runs before type coercion, so the expressions it builds
/// are coerced like the user's.
#[derive(Debug, Default)]
pub struct FitTransformRule;

fn one_liner_call(expr: &Expr) -> Option<(&'static OneLinerSpec, &ScalarFunction)> {
    match expr {
        Expr::ScalarFunction(call) => one_liner(call.func.name()).map(|spec| (spec, call)),
        _ => None,
    }
}

fn has_one_liner(expr: &Expr) -> bool {
    expr.exists(|e| Ok(one_liner_call(e).is_some())).unwrap_or(false)
}

impl AnalyzerRule for FitTransformRule {
    fn name(&self) -> &str {
        FIT_TRANSFORM_RULE_NAME
    }

    fn analyze(&self, plan: LogicalPlan, config: &ConfigOptions) -> Result<LogicalPlan> {
        let dir = VergerConfig::from_options(config).materialize_dir;
        let mut counter = 0usize;
        plan.transform_up_with_subqueries(|node| {
            let calls_here = node.expressions().iter().any(has_one_liner);
            if !calls_here {
                return Ok(Transformed::no(node));
            }
            let LogicalPlan::Projection(projection) = node else {
                let name = node.expressions().iter().find_map(|e| {
                    let mut found = None;
                    let _ = e.apply(|e| {
                        found = one_liner_call(e).map(|(spec, _)| spec.name);
                        Ok(if found.is_some() { TreeNodeRecursion::Stop } else { TreeNodeRecursion::Continue })
                    });
                    found
                });
                return plan_err!(
                    "{}() is allowed only in a SELECT list (it fits on every row the SELECT sees); found it in {}",
                    name.unwrap_or("a one-liner"),
                    node.display()
                );
            };
            let mut plan = LogicalPlan::Projection(projection);
            while let LogicalPlan::Projection(projection) = &plan
                && projection.expr.iter().any(has_one_liner)
            {
                plan = rewrite_innermost(projection.clone(), &dir, &mut counter)?;
            }
            Ok(Transformed::yes(plan))
        })
        .map(|t| t.data)
    }
}

/// The distinct innermost one-liner calls of `exprs`: those whose arguments hold no other.
fn innermost_calls(exprs: &[Expr]) -> Vec<Expr> {
    let mut calls: Vec<Expr> = Vec::new();
    for expr in exprs {
        let _ = expr.apply(|e| {
            if let Some((_, call)) = one_liner_call(e)
                && !call.args.iter().any(has_one_liner)
                && !calls.contains(e)
            {
                calls.push(e.clone());
            }
            Ok(TreeNodeRecursion::Continue)
        });
    }
    calls
}

/// True when `plan` only reads and filters table columns: reading it twice costs less than
/// materialising it.
fn is_cheap(plan: &LogicalPlan) -> bool {
    fn cheap_expr(expr: &Expr) -> bool {
        !expr
            .exists(|e| {
                Ok(!matches!(
                    e,
                    Expr::Column(_) | Expr::Literal(..) | Expr::Alias(_) | Expr::Cast(_) | Expr::TryCast(_) | Expr::BinaryExpr(_) | Expr::Not(_)
                        | Expr::IsNull(_) | Expr::IsNotNull(_) | Expr::Between(_) | Expr::InList(_) | Expr::Like(_)
                ))
            })
            .unwrap_or(true)
    }
    !plan
        .exists(|node| {
            Ok(match node {
                LogicalPlan::TableScan(scan) => !scan.filters.iter().all(cheap_expr),
                LogicalPlan::Projection(_) | LogicalPlan::Filter(_) | LogicalPlan::SubqueryAlias(_) => {
                    !node.expressions().iter().all(cheap_expr)
                }
                _ => true,
            })
        })
        .unwrap_or(true)
}

fn fresh(prefix: &str, counter: &mut usize) -> String {
    let name = format!("__{prefix}_{counter}");
    *counter += 1;
    name
}

fn rewrite_innermost(projection: Projection, dir: &str, counter: &mut usize) -> Result<LogicalPlan> {
    let input = Arc::unwrap_or_clone(projection.input);
    let calls = innermost_calls(&projection.expr);
    struct Planned {
        call: Expr,
        input_name: String,
        model_name: String,
        spec: &'static OneLinerSpec,
        args: Vec<Expr>,
    }
    let mut planned: Vec<Planned> = Vec::with_capacity(calls.len());
    for call in calls {
        let Some((spec, function)) = one_liner_call(&call) else {
            return plan_err!("internal: not a one-liner call: {call}");
        };
        let args = function.args.clone();
        // Calls with the same fit on the same arguments (`pca(f, 0.9)` and
        // `pca_explained_variance(f, 0.9)`) share one fit and one model.
        let fit_arguments = |spec: &OneLinerSpec, args: &[Expr]| {
            let mut all = args.first().cloned().into_iter().collect::<Vec<_>>();
            all.extend(spec.fit_parameters(args.get(1..).unwrap_or_default()));
            (spec.fit, all)
        };
        let shared = planned.iter().find(|p| fit_arguments(p.spec, &p.args) == fit_arguments(spec, &args));
        let (input_name, model_name) = match shared {
            Some(p) => (p.input_name.clone(), p.model_name.clone()),
            None => (fresh("fit_input", counter), fresh("fit_model", counter)),
        };
        planned.push(Planned { call, input_name, model_name, spec, args });
    }

    // The SELECT list with each call replaced by its transform.
    let preserver = NamePreserver::new_for_projection();
    let rewritten: Vec<Expr> = projection
        .expr
        .iter()
        .map(|expr| {
            let saved = preserver.save(expr);
            let replaced = expr.clone().transform_up(|e| {
                Ok(match planned.iter().find(|p| p.call == e) {
                    Some(p) => Transformed::yes(transform_call(p.spec, &p.input_name, &p.model_name)?),
                    None => Transformed::no(e),
                })
            })?;
            Ok(saved.restore(replaced.data))
        })
        .collect::<Result<_>>()?;

    // What the rows side must carry: the input columns the new SELECT list uses, and each
    // call's features, computed once.
    let placeholders: BTreeSet<String> = planned.iter().flat_map(|p| [p.input_name.clone(), p.model_name.clone()]).collect();
    let mut needed: Vec<Column> = Vec::new();
    for expr in &rewritten {
        for column in expr.column_refs() {
            if !placeholders.contains(&column.name) && !needed.contains(column) {
                needed.push(column.clone());
            }
        }
    }
    let mut carried: Vec<Expr> = needed.into_iter().map(Expr::Column).collect();
    for (i, p) in planned.iter().enumerate() {
        if planned[..i].iter().any(|q| q.input_name == p.input_name) {
            continue;
        }
        let Some(features) = p.args.first() else {
            return plan_err!("{}() needs the features", p.spec.name);
        };
        carried.push(features.clone().alias(&p.input_name));
    }
    let rows = LogicalPlanBuilder::from(input).project(carried)?.build()?;

    let (fit_input, rows_input) = if is_cheap(&rows) {
        (rows.clone(), rows.clone())
    } else {
        let id = new_materialize_id();
        let schema = Arc::clone(rows.schema());
        let write = LogicalPlan::Extension(Extension { node: Arc::new(MaterializeWrite { input: rows, id: id.clone(), dir: dir.to_owned() }) });
        let read = LogicalPlan::Extension(Extension { node: Arc::new(MaterializeRead { id, dir: dir.to_owned(), schema }) });
        (write, read)
    };

    // The fit: one aggregate per call, no grouping, then the models made broadcastable.
    let (fit_key, rows_key) = (fresh("fit_key", counter), fresh("rows_key", counter));
    let mut fits = Vec::with_capacity(planned.len());
    let mut broadcast = Vec::with_capacity(planned.len() + 1);
    for (i, p) in planned.iter().enumerate() {
        if planned[..i].iter().any(|q| q.model_name == p.model_name) {
            continue;
        }
        let fit = aggregate_call(p.spec, &p.input_name, &p.args[1..])?;
        fits.push(fit.alias(&p.model_name));
        broadcast.push(scalar_call(BROADCAST_MODEL, vec![col(Column::from_name(&p.model_name))])?.alias(&p.model_name));
    }
    let first_model = planned.first().map(|p| col(Column::from_name(&p.model_name))).unwrap_or_else(|| lit(0i32));
    broadcast.push(scalar_call(BROADCAST_KEY, vec![first_model])?.alias(&fit_key));
    let models = LogicalPlanBuilder::from(fit_input).aggregate(Vec::<Expr>::new(), fits)?.project(broadcast)?.build()?;

    let mut rows_columns: Vec<Expr> = rows_input.schema().columns().into_iter().map(Expr::Column).collect();
    rows_columns.push(lit(0i32).alias(&rows_key));
    let rows = LogicalPlanBuilder::from(rows_input).project(rows_columns)?.build()?;

    LogicalPlanBuilder::from(models)
        .join(rows, JoinType::Inner, (vec![Column::from_name(&fit_key)], vec![Column::from_name(&rows_key)]), None)?
        .project(rewritten)?
        .build()
}

fn transform_call(spec: &OneLinerSpec, input: &str, model: &str) -> Result<Expr> {
    scalar_call(spec.transform, vec![col(Column::from_name(input)), col(Column::from_name(model))])
}

fn scalar_call(name: &str, args: Vec<Expr>) -> Result<Expr> {
    let function = super::functions::registered_scalar(name).ok_or_else(|| plan_datafusion_err!("internal: no function {name}"))?;
    Ok(Expr::ScalarFunction(ScalarFunction::new_udf(function, args)))
}

fn aggregate_call(spec: &OneLinerSpec, input: &str, parameters: &[Expr]) -> Result<Expr> {
    let function = super::functions::registered_aggregate(spec.fit).ok_or_else(|| plan_datafusion_err!("internal: no aggregate {}", spec.fit))?;
    let mut args = vec![col(Column::from_name(input))];
    args.extend(spec.fit_parameters(parameters));
    Ok(Expr::AggregateFunction(AggregateFunction::new_udf(function, args, false, None, vec![], None)))
}
