//! `standard_scale(features, scaler)`: Spark's `StandardScalerModel.transform`.

use super::ScalerModel;
use crate::args::DOC_SECTION;
use crate::error::input_error;
use crate::model::RowModels;
use crate::vectors::{VectorBuilder, VectorColumn, coerce_transform_args, fixed_length};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::{ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};
use std::sync::LazyLock;

pub const NAME: &str = "standard_scale";

/// Scales vectors with a fitted scaler: `(x − mean) · (1/std)` with `with_mean`, `x · (1/std)`
/// without; `1/std` is 0 for a constant feature (std 0) and 1 without `with_std`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StandardScale {
    signature: Signature,
}

impl Default for StandardScale {
    fn default() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION,
        "Scales each vector with a model from standard_scaler_fit, as Spark's StandardScalerModel: (x − mean) · (1/std) \
         with with_mean, x · (1/std) without; a constant feature (std 0) becomes 0.0, never NaN. Returns doubles; \
         NULL for a NULL vector or a NULL model.",
        "standard_scale(features, scaler)",
    )
    .with_argument("features", "Vectors of the length the scaler was fitted on.")
    .with_argument("scaler", "A model from standard_scaler_fit (a struct value, e.g. from a subquery or a stored table).")
    .with_sql_example("SELECT standard_scale(features, (SELECT standard_scaler_fit(features, true, true) FROM t)) FROM t")
    .build()
});

impl ScalarUDFImpl for StandardScale {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        coerce_transform_args(NAME, arg_types)
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(VectorBuilder::data_type(arg_types.first().and_then(fixed_length)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [features, model] = args.args.as_slice() else {
            return plan_err!("{NAME} takes (features, scaler)");
        };
        let rows = args.number_rows;
        let features = features.to_array(rows)?;
        let column = VectorColumn::try_new(NAME, &features)?;
        let models = RowModels::<ScalerModel>::resolve(NAME, model, rows)?;
        let factors: Vec<Vec<f64>> = models.models.iter().map(|m| m.factors()).collect();
        let mut output = VectorBuilder::new(fixed_length(features.data_type()), rows);
        for row in 0..rows {
            let (Some(vector), Some(index)) = (column.get(row)?, models.per_row[row]) else {
                output.push_null();
                continue;
            };
            let (model, factors) = (&models.models[index], &factors[index]);
            if vector.len() != model.mean.len() {
                return Err(input_error(
                    NAME,
                    format!("row {row} has {} features but the scaler was fitted on {}", vector.len(), model.mean.len()),
                ));
            }
            output.push_with(vector.len(), |out| {
                vector.write_f64(out);
                if model.with_mean {
                    out.iter_mut().zip(&model.mean).for_each(|(x, m)| *x -= m);
                }
                out.iter_mut().zip(factors).for_each(|(x, f)| *x *= f);
            });
        }
        Ok(ColumnarValue::Array(output.finish()?))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}
