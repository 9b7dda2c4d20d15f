use crate::model::{FittedModel, ModelRow, list_array, list_type, model_error};
use crate::moments::Moments;
use datafusion::arrow::array::{ArrayRef, BooleanArray, Int64Array, StructArray};
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::common::Result;
use std::sync::Arc;

/// A fitted StandardScaler, as Spark's `StandardScalerModel`: the fit's options, the number
/// of rows it saw, and per-feature mean and sample standard deviation (n − 1).
#[derive(Debug, Clone, PartialEq)]
pub struct ScalerModel {
    pub with_mean: bool,
    pub with_std: bool,
    pub count: i64,
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
}

impl ScalerModel {
    /// Spark's StandardScalerModel from the rows' moments: the mean and the sample standard
    /// deviation (n − 1), 0 for a single row.
    pub fn from_moments(moments: &mut Moments, with_mean: bool, with_std: bool) -> Self {
        moments.flush();
        let count = moments.count();
        let denominator = count.saturating_sub(1) as f64;
        let std = moments.diagonal().iter().map(|m2| if count > 1 { (m2 / denominator).sqrt() } else { 0.0 }).collect();
        Self { with_mean, with_std, count: i64::try_from(count).unwrap_or(i64::MAX), mean: moments.mean().to_vec(), std }
    }

    /// Per-feature factor: `1/std`, 0 where std is 0 (Spark: a constant column gives 0.0,
    /// never NaN), or 1 without `with_std`.
    pub fn factors(&self) -> Vec<f64> {
        self.std
            .iter()
            .map(|s| {
                if !self.with_std {
                    1.0
                } else if *s == 0.0 {
                    0.0
                } else {
                    1.0 / s
                }
            })
            .collect()
    }

    fn fields() -> Fields {
        Fields::from(vec![
            Field::new("with_mean", DataType::Boolean, false),
            Field::new("with_std", DataType::Boolean, false),
            Field::new("count", DataType::Int64, false),
            Field::new("mean", list_type(), false),
            Field::new("std", list_type(), false),
        ])
    }
}

impl FittedModel for ScalerModel {
    const KIND: &'static str = "scaler";

    fn data_type() -> DataType {
        DataType::Struct(Self::fields())
    }

    fn from_row(function: &'static str, array: &StructArray, row: usize) -> Result<Self> {
        let fields = ModelRow::<Self>::new(function, array, row);
        let model = Self {
            with_mean: fields.boolean("with_mean")?,
            with_std: fields.boolean("with_std")?,
            count: fields.integer("count")?,
            mean: fields.floats("mean")?,
            std: fields.floats("std")?,
        };
        if model.mean.len() != model.std.len() {
            return Err(model_error::<Self>(
                function,
                format!("it has {} means but {} standard deviations", model.mean.len(), model.std.len()),
            ));
        }
        Ok(model)
    }

    fn to_array(&self) -> Result<StructArray> {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(BooleanArray::from(vec![self.with_mean])),
            Arc::new(BooleanArray::from(vec![self.with_std])),
            Arc::new(Int64Array::from(vec![self.count])),
            list_array(&self.mean),
            list_array(&self.std),
        ];
        Ok(StructArray::try_new(Self::fields(), columns, None)?)
    }
}
