//! [`FitTransformRule`]: plans each one-liner (`pca(features, k)`) as a fit and a transform.
//!
//! ```text
//! SELECT label, pca(f(x), k) AS p FROM t
//!
//! MaterializeRelease                                         ← deletes the parts at the end
//!   Projection: label, pca_transform(__fit_input_0, __fit_model_0) AS p
//!     MaterializeRead                                        ← f(x) read back, after the fit,
//!       Projection: verger_broadcast_model(…) AS __fit_model_0  with the model on every row
//!         Aggregate: pca_fit(__fit_input_0, k)               ← two-phase fit
//!           MaterializeWrite                                 ← f(x) computed here, once
//!             Projection: label, f(x) AS __fit_input_0
//!               TableScan: t
//! ```
//!
//! The reader's input is the fit, so it reads the parts only after the fit has seen them
//! all, on any planner. The model travels dictionary-encoded, one 4-byte key per row.
//! When the input is only columns of a table (nothing computed), it is read twice instead
//! of materialised, and the model reaches the rows through a join whose build side is one
//! row (a broadcast, CollectLeft, join). Nested one-liners are planned innermost first, with one exception, the
//! seeds' StandardScaler then PCA: `pca(standardize(f, m, s), k)` is planned as one fit on
//! `f` — `standard_scaler_fit(f, m, s)` and `standardized_pca_fit(f, k, m, s)` side by side
//! in one aggregate — and the transform `pca_transform(standard_scale(f, scaler), pca)`, so
//! the scaled vectors are never materialised and `f` is read once after the fit.

use super::functions::{BROADCAST_KEY, BROADCAST_MODEL, OneLinerSpec, PCA, PCA_EXPLAINED_VARIANCE, STANDARDIZE, one_liner};
use super::materialize::{MaterializeWrite, new_materialize_id};
use super::read::MaterializeRead;
use super::release::MaterializeRelease;
use crate::pca::STANDARDIZED_PCA_FIT;
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

/// Whether a (not yet analysed) plan calls a one-liner anywhere, subqueries included: then
/// its analysis mints materialised inputs ([`super::release_failed_query`] finds them).
pub fn calls_one_liner(plan: &LogicalPlan) -> bool {
    let mut found = false;
    let _ = plan.apply_with_subqueries(|node| {
        found = node.expressions().iter().any(has_one_liner);
        Ok(if found { TreeNodeRecursion::Stop } else { TreeNodeRecursion::Continue })
    });
    found
}

impl AnalyzerRule for FitTransformRule {
    fn name(&self) -> &str {
        FIT_TRANSFORM_RULE_NAME
    }

    fn analyze(&self, plan: LogicalPlan, config: &ConfigOptions) -> Result<LogicalPlan> {
        let dir = VergerConfig::from_options(config).materialize_dir;
        let mut counter = 0usize;
        let mut materialized: Vec<String> = Vec::new();
        let plan = plan
            .transform_up_with_subqueries(|node| {
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
                    plan = rewrite_innermost(projection.clone(), &dir, &mut counter, &mut materialized)?;
                }
                Ok(Transformed::yes(plan))
            })?
            .data;
        if materialized.is_empty() {
            return Ok(plan);
        }
        // The whole query's root: it ends after every reader of the parts for good.
        Ok(LogicalPlan::Extension(Extension { node: Arc::new(MaterializeRelease { input: plan, ids: materialized, dir }) }))
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
                    Expr::Column(_)
                        | Expr::Literal(..)
                        | Expr::Alias(_)
                        | Expr::Cast(_)
                        | Expr::TryCast(_)
                        | Expr::BinaryExpr(_)
                        | Expr::Not(_)
                        | Expr::IsNull(_)
                        | Expr::IsNotNull(_)
                        | Expr::Between(_)
                        | Expr::InList(_)
                        | Expr::Like(_)
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

/// One call the rewrite replaces, and the fit it needs.
struct Planned {
    call: Expr,
    spec: &'static OneLinerSpec,
    fit: Fit,
    /// For a PCA over `standardize(features, …)`: the scaler call (an index into the plan)
    /// whose transform goes first.
    scaled_by: Option<usize>,
    input_name: String,
    model_name: String,
}

/// A fit: the aggregate, what it reads and its arguments after that.
#[derive(PartialEq)]
struct Fit {
    /// What the fit reads: computed once, carried under the call's `input_name`.
    features: Expr,
    aggregate: &'static str,
    /// The arguments after the features, defaults filled in.
    parameters: Vec<Expr>,
}

/// Adds `call` to `planned`, sharing the input of calls on the same features and the fit
/// of calls with the same fit (`pca(f, 0.9)` and `pca_explained_variance(f, 0.9)`).
fn plan_call(planned: &mut Vec<Planned>, call: Expr, spec: &'static OneLinerSpec, fit: Fit, scaled_by: Option<usize>, counter: &mut usize) {
    let input_name = match planned.iter().find(|p| p.fit.features == fit.features) {
        Some(p) => p.input_name.clone(),
        None => fresh("fit_input", counter),
    };
    let model_name = match planned.iter().find(|p| p.fit == fit) {
        Some(p) => p.model_name.clone(),
        None => fresh("fit_model", counter),
    };
    planned.push(Planned { call, spec, fit, scaled_by, input_name, model_name });
}

/// A PCA one-liner over `standardize(…)`, `scaler` among the planned calls: the scaler's
/// features, fitted by `standardized_pca_fit` from the same moments as the scaler.
fn standardized_pca(call: &ScalarFunction, spec: &OneLinerSpec, planned: &[Planned]) -> Option<(usize, Fit)> {
    if !matches!(spec.name, PCA | PCA_EXPLAINED_VARIANCE) {
        return None;
    }
    let (input, parameters) = call.args.split_first()?;
    if parameters.iter().any(has_one_liner) {
        return None;
    }
    let scaler = planned.iter().position(|p| p.spec.name == STANDARDIZE && p.call == *input)?;
    let scaler_call = &planned[scaler];
    let mut fit_parameters = spec.fit_parameters(parameters);
    fit_parameters.extend(scaler_call.fit.parameters.iter().cloned());
    Some((scaler, Fit { features: scaler_call.fit.features.clone(), aggregate: STANDARDIZED_PCA_FIT, parameters: fit_parameters }))
}

fn rewrite_innermost(projection: Projection, dir: &str, counter: &mut usize, materialized: &mut Vec<String>) -> Result<LogicalPlan> {
    let input = Arc::unwrap_or_clone(projection.input);
    let mut planned: Vec<Planned> = Vec::new();
    for call in innermost_calls(&projection.expr) {
        let Some((spec, function)) = one_liner_call(&call) else {
            return plan_err!("internal: not a one-liner call: {call}");
        };
        let Some((features, parameters)) = function.args.split_first() else {
            return plan_err!("{}() needs the features", spec.name);
        };
        let fit = Fit { features: features.clone(), aggregate: spec.fit, parameters: spec.fit_parameters(parameters) };
        plan_call(&mut planned, call, spec, fit, None, counter);
    }
    // StandardScaler then PCA, the seeds' job, is one fit on the unscaled features: the
    // scaled vectors are neither materialised nor read twice.
    let mut fused: Vec<(Expr, &'static OneLinerSpec, usize, Fit)> = Vec::new();
    for expr in &projection.expr {
        let _ = expr.apply(|e| {
            if let Some((spec, function)) = one_liner_call(e)
                && let Some((scaler, fit)) = standardized_pca(function, spec, &planned)
                && !fused.iter().any(|(call, ..)| call == e)
            {
                fused.push((e.clone(), spec, scaler, fit));
            }
            Ok(TreeNodeRecursion::Continue)
        });
    }
    for (call, spec, scaler, fit) in fused {
        plan_call(&mut planned, call, spec, fit, Some(scaler), counter);
    }

    // The SELECT list with each call replaced by its transform, outermost first so that a
    // fused PCA replaces its standardize() too.
    let preserver = NamePreserver::new_for_projection();
    let rewritten: Vec<Expr> = projection
        .expr
        .iter()
        .map(|expr| {
            let saved = preserver.save(expr);
            let replaced = expr.clone().transform_down(|e| {
                Ok(match planned.iter().find(|p| p.call == e) {
                    Some(p) => Transformed::yes(transform_call(p, &planned)?),
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
        if !planned[..i].iter().any(|q| q.input_name == p.input_name) {
            carried.push(p.fit.features.clone().alias(&p.input_name));
        }
    }
    let rows = LogicalPlanBuilder::from(input).project(carried)?.build()?;

    // The fits: one aggregate per distinct fit, no grouping, then the models made
    // broadcastable.
    let mut fits = Vec::with_capacity(planned.len());
    let mut broadcast = Vec::with_capacity(planned.len() + 1);
    for (i, p) in planned.iter().enumerate() {
        if planned[..i].iter().any(|q| q.model_name == p.model_name) {
            continue;
        }
        fits.push(aggregate_call(p.fit.aggregate, &p.input_name, &p.fit.parameters)?.alias(&p.model_name));
        broadcast.push(scalar_call(BROADCAST_MODEL, vec![col(Column::from_name(&p.model_name))])?.alias(&p.model_name));
    }

    if !is_cheap(&rows) {
        // Computed once: written while the fit reads it, read back after the fit.
        let id = new_materialize_id();
        materialized.push(id.clone());
        let schema = Arc::clone(rows.schema());
        let write =
            LogicalPlan::Extension(Extension { node: Arc::new(MaterializeWrite { input: rows, id: id.clone(), dir: dir.to_owned() }) });
        let models = LogicalPlanBuilder::from(write).aggregate(Vec::<Expr>::new(), fits)?.project(broadcast)?.build()?;
        let read = MaterializeRead::try_new(models, id, dir.to_owned(), schema)?;
        return LogicalPlanBuilder::from(LogicalPlan::Extension(Extension { node: Arc::new(read) })).project(rewritten)?.build();
    }

    // Read twice: the model reaches the rows through a join on a constant key.
    let (fit_key, rows_key) = (fresh("fit_key", counter), fresh("rows_key", counter));
    let first_model = planned.first().map(|p| col(Column::from_name(&p.model_name))).unwrap_or_else(|| lit(0i32));
    broadcast.push(scalar_call(BROADCAST_KEY, vec![first_model])?.alias(&fit_key));
    let models = LogicalPlanBuilder::from(rows.clone()).aggregate(Vec::<Expr>::new(), fits)?.project(broadcast)?.build()?;

    let mut rows_columns: Vec<Expr> = rows.schema().columns().into_iter().map(Expr::Column).collect();
    rows_columns.push(lit(0i32).alias(&rows_key));
    let rows = LogicalPlanBuilder::from(rows).project(rows_columns)?.build()?;

    LogicalPlanBuilder::from(models)
        .join(rows, JoinType::Inner, (vec![Column::from_name(&fit_key)], vec![Column::from_name(&rows_key)]), None)?
        .project(rewritten)?
        .build()
}

/// `call`'s transform on its fitted model; a fused PCA first scales its input with the
/// scaler's model (the share of variance needs only the rows).
fn transform_call(call: &Planned, planned: &[Planned]) -> Result<Expr> {
    let input = col(Column::from_name(&call.input_name));
    let input = match call.scaled_by.and_then(|i| planned.get(i)) {
        Some(scaler) if call.spec.name != PCA_EXPLAINED_VARIANCE => {
            scalar_call(scaler.spec.transform, vec![input, col(Column::from_name(&scaler.model_name))])?
        }
        _ => input,
    };
    scalar_call(call.spec.transform, vec![input, col(Column::from_name(&call.model_name))])
}

fn scalar_call(name: &str, args: Vec<Expr>) -> Result<Expr> {
    let function = super::functions::registered_scalar(name).ok_or_else(|| plan_datafusion_err!("internal: no function {name}"))?;
    Ok(Expr::ScalarFunction(ScalarFunction::new_udf(function, args)))
}

fn aggregate_call(fit: &str, input: &str, parameters: &[Expr]) -> Result<Expr> {
    let function = super::functions::registered_aggregate(fit).ok_or_else(|| plan_datafusion_err!("internal: no aggregate {fit}"))?;
    let mut args = vec![col(Column::from_name(input))];
    args.extend(parameters.iter().cloned());
    Ok(Expr::AggregateFunction(AggregateFunction::new_udf(function, args, false, None, vec![], None)))
}
