use crate::model::{FittedModel, ModelRow, list_array, list_of_lists_array, list_of_lists_type, list_type, model_error};
use datafusion::arrow::array::{ArrayRef, Int32Array, Int64Array, StructArray};
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::common::Result;
use std::sync::Arc;

/// A fitted PCA, as Spark's `PCAModel`: `k` principal components (each a unit vector over the
/// input features, largest variance first), the share of the total variance each explains,
/// and the rows' mean and count (for reference: the transform does not centre).
#[derive(Debug, Clone, PartialEq)]
pub struct PcaModel {
    pub k: usize,
    pub count: i64,
    pub mean: Vec<f64>,
    /// `k` rows of `mean.len()` values, row-major.
    pub components: Vec<f64>,
    pub explained_variance: Vec<f64>,
}

impl PcaModel {
    pub fn dimension(&self) -> usize {
        self.mean.len()
    }

    fn fields() -> Fields {
        Fields::from(vec![
            Field::new("k", DataType::Int32, false),
            Field::new("count", DataType::Int64, false),
            Field::new("mean", list_type(), false),
            Field::new("components", list_of_lists_type(), false),
            Field::new("explained_variance", list_type(), false),
        ])
    }
}

impl FittedModel for PcaModel {
    const KIND: &'static str = "PCA";

    fn data_type() -> DataType {
        DataType::Struct(Self::fields())
    }

    fn from_row(function: &'static str, array: &StructArray, row: usize) -> Result<Self> {
        let fields = ModelRow::<Self>::new(function, array, row);
        let mean = fields.floats("mean")?;
        let (components, k) = fields.float_rows("components", mean.len())?;
        let explained_variance = fields.floats("explained_variance")?;
        let declared = fields.integer("k")?;
        if usize::try_from(declared).ok() != Some(k) || explained_variance.len() != k {
            return Err(model_error::<Self>(
                function,
                format!("k = {declared} but it has {k} components and {} explained variances", explained_variance.len()),
            ));
        }
        Ok(Self { k, count: fields.integer("count")?, mean, components, explained_variance })
    }

    fn to_array(&self) -> Result<StructArray> {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int32Array::from(vec![i32::try_from(self.k).unwrap_or(i32::MAX)])),
            Arc::new(Int64Array::from(vec![self.count])),
            list_array(&self.mean),
            list_of_lists_array(&self.components, self.dimension()),
            list_array(&self.explained_variance),
        ];
        Ok(StructArray::try_new(Self::fields(), columns, None)?)
    }
}
