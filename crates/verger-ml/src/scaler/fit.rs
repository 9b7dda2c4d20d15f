//! `standard_scaler_fit(features [, with_mean, with_std])`: Spark's StandardScaler fit as an
//! aggregate.

use super::ScalerModel;
use crate::args::{DOC_SECTION, boolean};
use crate::model::FittedModel;
use crate::moments::{FitAccumulator, FitFinish, Moments, Second};
use crate::vectors::coerce_vector_arg;
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, Documentation, Signature, Volatility};
use std::sync::{Arc, LazyLock};

pub const NAME: &str = "standard_scaler_fit";

/// Fits a StandardScaler: per-feature mean and sample standard deviation (n − 1), computed
/// in double from the input vectors. Partial fits merge exactly (see `moments`), so the
/// aggregate runs in two phases across partitions and executors.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StandardScalerFit {
    signature: Signature,
}

impl Default for StandardScalerFit {
    fn default() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION,
        "Fits Spark's StandardScaler over the rows: the mean and the sample standard deviation (n − 1) of each feature. \
         Returns the model as struct(with_mean, with_std, count, mean, std), to pass to standard_scale or to store. \
         NULL rows are skipped; no row at all is an error. One row gives std 0 everywhere, as in Spark.",
        "standard_scaler_fit(features [, with_mean, with_std])",
    )
    .with_argument("features", "Vectors: an array of numbers (FIXED_SIZE_LIST, LIST or LARGE_LIST), all of one length.")
    .with_argument("with_mean", "Centre on the mean when scaling (constant, default FALSE as in Spark).")
    .with_argument("with_std", "Divide by the standard deviation when scaling (constant, default TRUE as in Spark).")
    .with_sql_example("SELECT standard_scaler_fit(features, true, true) AS scaler FROM image_features")
    .build()
});

impl AggregateUDFImpl for StandardScalerFit {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let Some((features, options)) = arg_types.split_first() else {
            return plan_err!("{NAME} takes (features [, with_mean, with_std])");
        };
        if options.len() > 2 {
            return plan_err!("{NAME} takes (features [, with_mean, with_std]), got {} arguments", arg_types.len());
        }
        let mut coerced = vec![coerce_vector_arg(NAME, features)?];
        coerced.extend(options.iter().map(|_| DataType::Boolean));
        Ok(coerced)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(ScalerModel::data_type())
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(Moments::state_fields(args.name).into_iter().map(Arc::new).collect())
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let with_mean = boolean(NAME, args.exprs, 1, "with_mean", false)?;
        let with_std = boolean(NAME, args.exprs, 2, "with_std", true)?;
        Ok(Box::new(FitAccumulator::new(NAME, Second::Diagonal, ScalerFinish { with_mean, with_std })))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

/// Makes the model with [`ScalerModel::from_moments`].
#[derive(Debug)]
struct ScalerFinish {
    with_mean: bool,
    with_std: bool,
}

impl FitFinish for ScalerFinish {
    fn finish(&self, _function: &'static str, moments: &mut Moments) -> Result<ScalarValue> {
        ScalerModel::from_moments(moments, self.with_mean, self.with_std).to_scalar()
    }
}
