//! `pca_transform(features, model)`: Spark's `PCAModel.transform`.

use super::PcaModel;
use crate::args::DOC_SECTION;
use crate::error::input_error;
use crate::model::{RowModels, runs};
use crate::vectors::{VectorBuilder, VectorColumn, coerce_transform_args};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::{ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};
use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use std::sync::LazyLock;

pub const NAME: &str = "pca_transform";

/// Projects vectors on a fitted model's components: `pcᵀ · x` on the raw input, without
/// centring, as Spark does. Rows sharing a model go through one GEMM.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PcaTransform {
    signature: Signature,
}

impl Default for PcaTransform {
    fn default() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION,
        "Projects each vector on the components of a model from pca_fit: pcᵀ · x, without centring, as Spark's \
         PCAModel (after standard_scale with with_mean the difference vanishes). Returns k doubles; NULL for a NULL \
         vector or a NULL model.",
        "pca_transform(features, model)",
    )
    .with_argument("features", "Vectors of the length the model was fitted on.")
    .with_argument("model", "A model from pca_fit (a struct value, e.g. from a subquery or a stored table).")
    .with_sql_example("SELECT label, pca_transform(features, (SELECT pca_fit(features, 50) FROM t)) FROM t")
    .build()
});

impl ScalarUDFImpl for PcaTransform {
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
        Ok(VectorBuilder::data_type(None))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [features, model] = args.args.as_slice() else {
            return plan_err!("{NAME} takes (features, model)");
        };
        let rows = args.number_rows;
        let features = features.to_array(rows)?;
        let column = VectorColumn::try_new(NAME, &features)?;
        let models = RowModels::<PcaModel>::resolve(NAME, model, rows)?;
        // Each run's projections in one buffer; rows point at theirs.
        let mut outputs: Vec<(usize, Vec<f64>)> = Vec::new();
        let mut located: Vec<Option<(usize, usize)>> = vec![None; rows];
        for (index, range) in runs(&models.per_row) {
            let model = &models.models[index];
            let (d, k) = (model.dimension(), model.k);
            let mut present = 0;
            let mut block = Vec::with_capacity(range.len() * d);
            for row in range {
                let Some(vector) = column.get(row)? else { continue };
                if vector.len() != d {
                    return Err(input_error(NAME, format!("row {row} has {} features but the model was fitted on {d}", vector.len())));
                }
                let start = block.len();
                block.resize(start + d, 0.0);
                vector.write_f64(&mut block[start..]);
                located[row] = Some((outputs.len(), present * k));
                present += 1;
            }
            let mut output = vec![0.0; present * k];
            let inputs = MatRef::from_row_major_slice(&block, present, d);
            let components = MatRef::from_row_major_slice(&model.components, k, d);
            matmul(
                MatMut::from_row_major_slice_mut(&mut output, present, k),
                Accum::Replace,
                inputs,
                components.transpose(),
                1.0,
                Par::Seq,
            );
            outputs.push((k, output));
        }
        let mut output = VectorBuilder::new(None, rows);
        for place in located {
            match place {
                Some((run, start)) => {
                    let (k, values) = &outputs[run];
                    output.push_with(*k, |out| out.copy_from_slice(&values[start..start + k]));
                }
                None => output.push_null(),
            }
        }
        Ok(ColumnarValue::Array(output.finish()?))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}
