//! `pca_fit(features, k)`: Spark's PCA fit as an aggregate.

use super::PcaModel;
use super::eigen::top_eigenpairs;
use crate::args::{DOC_SECTION, literal};
use crate::error::fit_error;
use crate::model::FittedModel;
use crate::moments::{FitAccumulator, FitFinish, Moments, Second, lower_column, lower_column_mut};
use crate::vectors::{coerce_vector_arg, fixed_length};
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, Documentation, Signature, Volatility};
use std::sync::{Arc, LazyLock};

pub const NAME: &str = "pca_fit";

/// How many components to keep.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Components {
    /// Exactly this many (1 ≤ k ≤ number of features).
    Count(usize),
    /// The fewest whose explained variance adds up to at least this share (0 < f ≤ 1).
    Fraction(f64),
}

impl Components {
    /// Reads `k` from its literal: an integer is a count, a decimal or float a fraction.
    pub fn from_literal(function: &str, value: &ScalarValue) -> Result<Self> {
        if value.is_null() {
            return plan_err!("{function}: k must not be NULL");
        }
        let data_type = value.data_type();
        if data_type.is_integer() {
            let k = value.cast_to(&DataType::Int64)?;
            return match k {
                ScalarValue::Int64(Some(k)) if k >= 1 => Ok(Self::Count(usize::try_from(k).unwrap_or(usize::MAX))),
                _ => plan_err!("{function}: k must be at least 1, got {value}"),
            };
        }
        if data_type.is_floating()
            || matches!(data_type, DataType::Decimal32(..) | DataType::Decimal64(..) | DataType::Decimal128(..) | DataType::Decimal256(..))
        {
            return match value.cast_to(&DataType::Float64)? {
                ScalarValue::Float64(Some(f)) if f > 0.0 && f <= 1.0 => Ok(Self::Fraction(f)),
                _ => plan_err!("{function}: a fractional k is a share of the variance, in (0, 1]; got {value}"),
            };
        }
        plan_err!("{function}: k must be an integer (a number of components) or a fraction in (0, 1], got {data_type}")
    }
}

/// Fits PCA on mergeable moments: the covariance (n − 1), its symmetric eigendecomposition
/// (faer), components sorted by variance, each signed so its largest-magnitude entry is
/// positive. `explained_variance[i]` is eigenvalue i over the sum of all eigenvalues, as in
/// Spark.
pub fn fit_components(function: &'static str, moments: &mut Moments, k: Components) -> Result<PcaModel> {
    let count = check_fit(function, moments, k)?;
    let Some(comoment) = moments.full() else {
        return Err(fit_error(function, "the vectors are empty"));
    };
    decompose(function, count, moments.mean().to_vec(), comoment, None, k)
}

/// The `k` of a PCA fit (its second argument), checked against the vectors' length when
/// their type fixes it, so that a bad `k` fails before any row is read.
pub(super) fn components_argument(function: &'static str, args: &AccumulatorArgs) -> Result<Components> {
    let Some(k) = literal(function, args.exprs, 1, "k")? else {
        return plan_err!("{function} takes (features, k, …)");
    };
    let k = Components::from_literal(function, &k)?;
    if let (Components::Count(k), Some(d)) = (k, args.expr_fields.first().and_then(|f| fixed_length(f.data_type())))
        && k > d
    {
        return plan_err!("{function}: k = {k} is more than the {d} features");
    }
    Ok(k)
}

/// What every PCA fit checks first: rows to fit and a `k` the features allow. Returns the
/// row count.
pub(super) fn check_fit(function: &'static str, moments: &mut Moments, k: Components) -> Result<u64> {
    moments.flush();
    let count = moments.count();
    if count == 0 {
        return Err(fit_error(function, "no rows to fit: the input is empty or all its vectors are NULL"));
    }
    if count == 1 {
        return Err(fit_error(function, "PCA needs at least 2 rows to estimate a covariance, got 1 (Spark fails the same way)"));
    }
    let d = moments.dimension();
    if let Components::Count(k) = k
        && k > d
    {
        return Err(fit_error(function, format!("k = {k} is more than the {d} features")));
    }
    Ok(count)
}

/// The covariance of the rows scaled by `factors` (the rows themselves for `None`), lower
/// triangle: `factors[i]·factors[j]·M[i, j] / (n − 1)` from the co-moment `M`, a column at a time.
fn covariance(comoment: &faer::Mat<f64>, factors: Option<&[f64]>, count: u64) -> faer::Mat<f64> {
    let d = comoment.nrows();
    let scale = 1.0 / (count - 1) as f64;
    let mut covariance = faer::Mat::<f64>::zeros(d, d);
    for j in 0..d {
        let (target, source) = (lower_column_mut(&mut covariance, j), lower_column(comoment, j));
        match factors {
            None => target.iter_mut().zip(source).for_each(|(c, m)| *c = m * scale),
            Some(factors) => {
                let fj = factors[j];
                target.iter_mut().zip(source).zip(&factors[j..]).for_each(|((c, m), fi)| *c = fi * fj * m * scale);
            }
        }
    }
    covariance
}

/// The PCA of `count` rows whose mean is `mean` and whose co-moment matrix (lower
/// triangle, `i ≥ j`) is `comoment`, each feature `i` scaled by `factors[i]` if given.
pub(super) fn decompose(
    function: &'static str,
    count: u64,
    mean: Vec<f64>,
    comoment: &faer::Mat<f64>,
    factors: Option<&[f64]>,
    k: Components,
) -> Result<PcaModel> {
    let d = mean.len();
    let started = std::time::Instant::now();
    let covariance = covariance(comoment, factors, count);
    // Rounding can leave tiny negatives on a positive semi-definite matrix: no variance.
    let mut explained = Vec::new();
    let vectors = top_eigenpairs(covariance, |values| {
        let variances: Vec<f64> = values.iter().map(|v| v.max(0.0)).collect();
        let total: f64 = variances.iter().sum();
        explained = variances.iter().map(|v| if total > 0.0 { v / total } else { 0.0 }).collect();
        match k {
            Components::Count(k) => k,
            Components::Fraction(fraction) => {
                let mut cumulative = 0.0;
                let reached = explained.iter().position(|share| {
                    cumulative += share;
                    cumulative >= fraction - 1e-12
                });
                reached.map_or(d, |i| i + 1)
            }
        }
    })
    .map_err(|e| fit_error(function, format!("the eigendecomposition did not converge: {e:?}")))?;
    log::debug!("{function}: eigendecomposition of the {d}×{d} covariance of {count} rows in {:.3} s", started.elapsed().as_secs_f64());
    let k = vectors.ncols();
    let mut components = Vec::with_capacity(k * d);
    for column in 0..k {
        let vector = vectors.col(column);
        let pivot = (0..d).fold(0, |best, i| if vector[i].abs() > vector[best].abs() { i } else { best });
        let sign = if vector[pivot] < 0.0 { -1.0 } else { 1.0 };
        components.extend((0..d).map(|i| sign * vector[i]));
    }
    Ok(PcaModel { k, count: i64::try_from(count).unwrap_or(i64::MAX), mean, components, explained_variance: explained[..k].to_vec() })
}

/// Fits Spark's PCA; see [`fit_components`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PcaFit {
    signature: Signature,
}

impl Default for PcaFit {
    fn default() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION,
        "Fits Spark's PCA over the rows: covariance (n − 1), symmetric eigendecomposition, the k components of largest \
         variance. Returns struct(k, count, mean, components, explained_variance); explained_variance[i] is component \
         i's share of the total variance of all features, as in Spark. NULL rows are skipped; zero or one row, or k \
         above the number of features, is an error; k above the number of rows is allowed. Component signs are \
         fixed so that each component's largest-magnitude entry is positive.",
        "pca_fit(features, k)",
    )
    .with_argument("features", "Vectors: an array of numbers (FIXED_SIZE_LIST, LIST or LARGE_LIST), all of one length.")
    .with_argument("k", "A constant: an integer number of components, or a fraction in (0, 1] to keep the fewest components explaining at least that share of the variance.")
    .with_sql_example("SELECT pca_fit(features, 0.9)['k'] AS k, pca_fit(features, 0.9)['explained_variance'] FROM t")
    .build()
});

impl AggregateUDFImpl for PcaFit {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [features, k] = arg_types else {
            return plan_err!("{NAME} takes (features, k), got {} arguments", arg_types.len());
        };
        Ok(vec![coerce_vector_arg(NAME, features)?, k.clone()])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(PcaModel::data_type())
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(Moments::state_fields(args.name).into_iter().map(Arc::new).collect())
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let k = components_argument(NAME, &args)?;
        Ok(Box::new(FitAccumulator::new(NAME, Second::Full, k)))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

impl FitFinish for Components {
    fn finish(&self, function: &'static str, moments: &mut Moments) -> Result<ScalarValue> {
        fit_components(function, moments, *self)?.to_scalar()
    }
}
