//! `standardized_pca_fit(features, k [, with_mean, with_std])`: Spark's PCA of the
//! StandardScaler's output, fitted in the same single pass as the scaler.

use super::fit::{Components, check_fit, components_argument, decompose};
use crate::args::{DOC_SECTION, boolean};
use crate::model::FittedModel;
use crate::moments::{FitAccumulator, FitFinish, Moments, Second};
use crate::scaler::ScalerModel;
use crate::vectors::coerce_vector_arg;
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, Documentation, Signature, Volatility};
use std::sync::{Arc, LazyLock};

pub const NAME: &str = "standardized_pca_fit";

/// The PCA that `pca_fit(standard_scale(f, standard_scaler_fit(f, with_mean, with_std)), k)`
/// fits, from one pass over `f` instead of three.
///
/// Standardising multiplies each feature by a constant factor `sᵢ` (`1/stdᵢ`, 0 for a
/// constant feature, 1 without `with_std`) and may shift it by its mean, so the scaled
/// rows' co-moments are `sᵢ·sⱼ·Cᵢⱼ` of the raw ones: the moments of `f` alone give the
/// scaler and the PCA. The fit and the one-liner `pca(standardize(f, …), k)` — the seeds'
/// StandardScaler then PCA — need neither the scaled vectors written anywhere nor a second
/// look at the rows. The result equals the three-step fit's up to rounding (≈ 1e-12 relative).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StandardizedPcaFit {
    signature: Signature,
}

impl Default for StandardizedPcaFit {
    fn default() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION,
        "Fits Spark's PCA on the StandardScaler's output in one pass over the raw features: the same model as \
         pca_fit(standard_scale(features, standard_scaler_fit(features, with_mean, with_std)), k), up to rounding, \
         without computing the scaled vectors. Apply it to standard_scale(features, scaler), the scaler fitted with \
         the same options. pca(standardize(f, with_mean, with_std), k) plans this fit. NULL rows are skipped; zero or \
         one row, or k above the number of features, is an error. A constant feature scales to 0, as in Spark.",
        "standardized_pca_fit(features, k [, with_mean, with_std])",
    )
    .with_argument("features", "Vectors: an array of numbers (FIXED_SIZE_LIST, LIST or LARGE_LIST), all of one length.")
    .with_argument("k", "A constant: an integer number of components, or a fraction in (0, 1] of the variance to explain.")
    .with_argument("with_mean", "The scaler's option: centre on the mean (constant, default FALSE as in Spark).")
    .with_argument("with_std", "The scaler's option: divide by the standard deviation (constant, default TRUE as in Spark).")
    .with_sql_example(
        "SELECT pca_transform(standard_scale(f, s), p) FROM t CROSS JOIN \
         (SELECT standard_scaler_fit(f, true, true) AS s, standardized_pca_fit(f, 0.9, true, true) AS p FROM t)",
    )
    .build()
});

impl AggregateUDFImpl for StandardizedPcaFit {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [features, k, options @ ..] = arg_types else {
            return plan_err!("{NAME} takes (features, k [, with_mean, with_std]), got {} arguments", arg_types.len());
        };
        if options.len() > 2 {
            return plan_err!("{NAME} takes (features, k [, with_mean, with_std]), got {} arguments", arg_types.len());
        }
        let mut coerced = vec![coerce_vector_arg(NAME, features)?, k.clone()];
        coerced.extend(options.iter().map(|_| DataType::Boolean));
        Ok(coerced)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(super::PcaModel::data_type())
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(Moments::state_fields(args.name).into_iter().map(Arc::new).collect())
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let k = components_argument(NAME, &args)?;
        let with_mean = boolean(NAME, args.exprs, 2, "with_mean", false)?;
        let with_std = boolean(NAME, args.exprs, 3, "with_std", true)?;
        Ok(Box::new(FitAccumulator::new(NAME, Second::Full, StandardizedComponents { k, with_mean, with_std })))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

/// The PCA of the scaled rows, from the raw rows' moments.
#[derive(Debug)]
struct StandardizedComponents {
    k: Components,
    with_mean: bool,
    with_std: bool,
}

impl FitFinish for StandardizedComponents {
    fn finish(&self, function: &'static str, moments: &mut Moments) -> Result<ScalarValue> {
        let count = check_fit(function, moments, self.k)?;
        let scaler = ScalerModel::from_moments(moments, self.with_mean, self.with_std);
        let factors = scaler.factors();
        // The scaled rows' mean: exactly 0 once centred, as Spark's up to rounding.
        let mean = scaler.mean.iter().zip(&factors).map(|(m, s)| if self.with_mean { 0.0 } else { m * s }).collect();
        let Some(comoment) = moments.full() else {
            return Err(crate::error::fit_error(function, "the vectors are empty"));
        };
        decompose(function, count, mean, comoment, Some(&factors), self.k)?.to_scalar()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pca::{PcaModel, fit_components};
    use crate::vectors::VectorColumn;
    use datafusion::arrow::array::{ArrayRef, FixedSizeListArray, Float64Array, StructArray};
    use datafusion::arrow::datatypes::Field;

    fn column(rows: &[Vec<f64>]) -> ArrayRef {
        let d = rows.first().map_or(0, Vec::len);
        let values: Vec<f64> = rows.iter().flatten().copied().collect();
        Arc::new(FixedSizeListArray::new(
            Arc::new(Field::new_list_field(DataType::Float64, true)),
            d as i32,
            Arc::new(Float64Array::from(values)),
            None,
        ))
    }

    fn model(value: ScalarValue) -> Result<PcaModel> {
        let ScalarValue::Struct(array) = value else {
            return plan_err!("not a struct: {value}");
        };
        let array: &StructArray = &array;
        PcaModel::from_row("test", array, 0)
    }

    /// The rows scaled the way `standard_scale` does it.
    fn scaled(rows: &[Vec<f64>], scaler: &ScalerModel) -> Vec<Vec<f64>> {
        let factors = scaler.factors();
        rows.iter()
            .map(|row| {
                row.iter().enumerate().map(|(i, x)| (x - if scaler.with_mean { scaler.mean[i] } else { 0.0 }) * factors[i]).collect()
            })
            .collect()
    }

    #[test]
    fn equals_pca_of_the_scaled_rows() -> Result<()> {
        // Offset, unevenly scaled features, one of them constant (scaled to 0, as in Spark).
        let rows: Vec<Vec<f64>> = (0..300)
            .map(|i| {
                let t = f64::from(i);
                vec![
                    1000.0 + (t * 0.37).sin() * 40.0,
                    (t * 0.11).cos() * 0.02 + 0.5 * (t * 0.37).sin(),
                    7.0,
                    3.0 * (t * 0.05).sin() + (t * 0.9).cos(),
                ]
            })
            .collect();
        for (with_mean, with_std) in [(true, true), (false, true), (true, false), (false, false)] {
            let mut raw = Moments::new("test", Second::Full);
            raw.update(&VectorColumn::try_new("test", &column(&rows))?)?;
            let scaler = ScalerModel::from_moments(&mut raw.clone(), with_mean, with_std);
            let fused = StandardizedComponents { k: Components::Count(3), with_mean, with_std };
            let ours = model(fused.finish("test", &mut raw)?)?;

            let mut three_steps = Moments::new("test", Second::Full);
            three_steps.update(&VectorColumn::try_new("test", &column(&scaled(&rows, &scaler)))?)?;
            let theirs = fit_components("test", &mut three_steps, Components::Count(3))?;

            assert_eq!(ours.k, theirs.k);
            assert_eq!(ours.count, 300);
            let close = |a: &[f64], b: &[f64], what: &str| {
                for (x, y) in a.iter().zip(b) {
                    assert!((x - y).abs() <= 1e-9 * (1.0 + y.abs()), "{what} ({with_mean}, {with_std}): {x} vs {y}");
                }
            };
            close(&ours.components, &theirs.components, "components");
            close(&ours.explained_variance, &theirs.explained_variance, "explained variance");
            close(&ours.mean, &theirs.mean, "mean");
        }
        Ok(())
    }

    #[test]
    fn keeps_the_fits_errors() -> Result<()> {
        let mut one = Moments::new("test", Second::Full);
        one.update(&VectorColumn::try_new("test", &column(&[vec![1.0, 2.0]]))?)?;
        let fused = StandardizedComponents { k: Components::Fraction(0.9), with_mean: true, with_std: true };
        let error = fused.finish(NAME, &mut one).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("at least 2 rows"), "{error}");
        Ok(())
    }
}
