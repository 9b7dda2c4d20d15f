//! Internal: the transform of `pca_explained_variance(features, k)`.

use crate::model::RowModels;
use crate::pca::PcaModel;
use crate::vectors::coerce_transform_args;
use datafusion::arrow::array::Float64Array;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};
use std::sync::Arc;

pub const NAME: &str = "verger_pca_explained_variance";

/// `sum(model.explained_variance)` for each row's model; the features only give the rows.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PcaExplainedVariance {
    signature: Signature,
}

impl Default for PcaExplainedVariance {
    fn default() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for PcaExplainedVariance {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        coerce_transform_args(NAME, arg_types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [_features, model] = args.args.as_slice() else {
            return exec_err!("{NAME} takes (features, model)");
        };
        let models = RowModels::<PcaModel>::resolve(NAME, model, args.number_rows)?;
        let totals: Vec<f64> = models.models.iter().map(|m| m.explained_variance.iter().sum()).collect();
        let values: Float64Array = models.per_row.iter().map(|index| index.map(|i| totals[i])).collect();
        Ok(ColumnarValue::Array(Arc::new(values)))
    }
}
