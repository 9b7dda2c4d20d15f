//! Fitted models as SQL values: structs that can be selected, stored in Parquet, read back
//! and passed to the transforms. The one-liners (`pca(features)`) broadcast a model as a
//! dictionary-encoded blob instead, so that a join hands it to every row without copying it.

use crate::error::MlError;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, BinaryArray, DictionaryArray, Float64Array, ListArray, RecordBatch, StructArray};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Int32Type, Schema};
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::ColumnarValue;
use std::sync::Arc;

/// A fitted model stored as a one-row struct.
pub trait FittedModel: Sized + PartialEq + Send + Sync {
    /// What the model is, for messages: "scaler", "PCA".
    const KIND: &'static str;
    /// The struct type of the model value.
    fn data_type() -> DataType;
    /// Reads row `row` of `array`, reporting problems against `function`.
    fn from_row(function: &'static str, array: &StructArray, row: usize) -> Result<Self>;
    /// The model as a one-row struct array of [`FittedModel::data_type`].
    fn to_array(&self) -> Result<StructArray>;

    fn to_scalar(&self) -> Result<ScalarValue> {
        Ok(ScalarValue::Struct(Arc::new(self.to_array()?)))
    }
}

pub(crate) fn model_error<M: FittedModel>(function: &'static str, message: impl Into<String>) -> datafusion::error::DataFusionError {
    MlError::Model { function, kind: M::KIND, message: message.into() }.into()
}

pub(crate) fn list_type() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Float64, true)))
}

pub(crate) fn list_of_lists_type() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(list_type(), true)))
}

/// A one-row `LIST<DOUBLE>` array.
pub(crate) fn list_array(values: &[f64]) -> ArrayRef {
    let values: ArrayRef = Arc::new(Float64Array::from(values.to_vec()));
    Arc::new(ListArray::new(
        Arc::new(Field::new_list_field(DataType::Float64, true)),
        OffsetBuffer::from_lengths([values.len()]),
        values,
        None,
    ))
}

/// A one-row `LIST<LIST<DOUBLE>>` array of `rows` vectors of `width` values.
pub(crate) fn list_of_lists_array(flat: &[f64], width: usize) -> ArrayRef {
    let rows = flat.len().checked_div(width).unwrap_or(0);
    let values: ArrayRef = Arc::new(Float64Array::from(flat.to_vec()));
    let inner: ArrayRef = Arc::new(ListArray::new(
        Arc::new(Field::new_list_field(DataType::Float64, true)),
        OffsetBuffer::from_lengths(vec![width; rows]),
        values,
        None,
    ));
    Arc::new(ListArray::new(Arc::new(Field::new_list_field(list_type(), true)), OffsetBuffer::from_lengths([rows]), inner, None))
}

/// Typed access to the fields of one row of a model struct.
pub(crate) struct ModelRow<'a, M> {
    function: &'static str,
    array: &'a StructArray,
    row: usize,
    model: std::marker::PhantomData<M>,
}

impl<'a, M: FittedModel> ModelRow<'a, M> {
    pub fn new(function: &'static str, array: &'a StructArray, row: usize) -> Self {
        Self { function, array, row, model: std::marker::PhantomData }
    }

    fn field(&self, name: &str) -> Result<&'a ArrayRef> {
        let column = self.array.column_by_name(name).ok_or_else(|| model_error::<M>(self.function, format!("it has no field `{name}`")))?;
        if column.is_null(self.row) {
            return Err(model_error::<M>(self.function, format!("its field `{name}` is NULL")));
        }
        Ok(column)
    }

    pub fn scalar(&self, name: &str) -> Result<ScalarValue> {
        ScalarValue::try_from_array(self.field(name)?, self.row)
    }

    pub fn boolean(&self, name: &str) -> Result<bool> {
        match self.scalar(name)? {
            ScalarValue::Boolean(Some(b)) => Ok(b),
            other => Err(model_error::<M>(self.function, format!("field `{name}` should be a boolean, got {}", other.data_type()))),
        }
    }

    pub fn integer(&self, name: &str) -> Result<i64> {
        let value = self.scalar(name)?.cast_to(&DataType::Int64)?;
        match value {
            ScalarValue::Int64(Some(v)) => Ok(v),
            _ => Err(model_error::<M>(self.function, format!("field `{name}` should be an integer"))),
        }
    }

    /// A `LIST<DOUBLE>` (or float) field.
    pub fn floats(&self, name: &str) -> Result<Vec<f64>> {
        let list = self.field(name)?;
        let values = list_values(list, self.row)
            .ok_or_else(|| model_error::<M>(self.function, format!("field `{name}` should be a list of doubles")))?;
        floats_of(&values).ok_or_else(|| model_error::<M>(self.function, format!("field `{name}` should hold non-NULL doubles")))
    }

    /// A `LIST<LIST<DOUBLE>>` field of equal-length vectors, flattened row by row; returns
    /// the flat values and the number of vectors.
    pub fn float_rows(&self, name: &str, width: usize) -> Result<(Vec<f64>, usize)> {
        let list = self.field(name)?;
        let rows = list_values(list, self.row)
            .ok_or_else(|| model_error::<M>(self.function, format!("field `{name}` should be a list of vectors")))?;
        let mut flat = Vec::with_capacity(rows.len() * width);
        for i in 0..rows.len() {
            let row = list_values(&rows, i)
                .and_then(|v| floats_of(&v))
                .ok_or_else(|| model_error::<M>(self.function, format!("vector {} of `{name}` should be a list of doubles", i + 1)))?;
            if row.len() != width {
                return Err(model_error::<M>(
                    self.function,
                    format!("vector {} of `{name}` has {} values, expected {width}", i + 1, row.len()),
                ));
            }
            flat.extend(row);
        }
        Ok((flat, rows.len()))
    }
}

fn list_values(list: &ArrayRef, row: usize) -> Option<ArrayRef> {
    if list.is_null(row) {
        return None;
    }
    match list.data_type() {
        DataType::List(_) => Some(list.as_list::<i32>().value(row)),
        DataType::LargeList(_) => Some(list.as_list::<i64>().value(row)),
        DataType::FixedSizeList(_, _) => Some(list.as_fixed_size_list().value(row)),
        _ => None,
    }
}

fn floats_of(values: &ArrayRef) -> Option<Vec<f64>> {
    if values.null_count() > 0 {
        return None;
    }
    let values = datafusion::arrow::compute::cast(values, &DataType::Float64).ok()?;
    Some(values.as_primitive::<Float64Type>().values().to_vec())
}

/// Serialises a model to bytes (an Arrow IPC stream of its one-row struct).
pub(crate) fn model_blob(model: &StructArray) -> Result<Vec<u8>> {
    let schema = Arc::new(Schema::new(vec![Field::new("model", model.data_type().clone(), true)]));
    let batch = RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(model.clone())])?;
    let mut bytes = Vec::new();
    let mut writer = StreamWriter::try_new(&mut bytes, &schema)?;
    writer.write(&batch)?;
    writer.finish()?;
    drop(writer);
    Ok(bytes)
}

fn struct_from_blob(function: &'static str, kind: &'static str, bytes: &[u8]) -> Result<StructArray> {
    let invalid = |message: String| -> datafusion::error::DataFusionError { MlError::Model { function, kind, message }.into() };
    let reader = StreamReader::try_new(bytes, None).map_err(|e| invalid(format!("unreadable broadcast blob: {e}")))?;
    for batch in reader {
        let batch = batch.map_err(|e| invalid(format!("unreadable broadcast blob: {e}")))?;
        if batch.num_rows() > 0 {
            return batch.column(0).as_struct_opt().cloned().ok_or_else(|| invalid("the broadcast blob holds no struct".to_owned()));
        }
    }
    Err(invalid("the broadcast blob is empty".to_owned()))
}

/// The models of a batch: the distinct models, and for each row the index of its model
/// (`None` for a NULL model).
pub struct RowModels<M> {
    pub models: Vec<Arc<M>>,
    pub per_row: Vec<Option<usize>>,
}

impl<M: FittedModel> RowModels<M> {
    fn push(&mut self, model: Option<M>) {
        let index = model.map(|model| match self.models.last() {
            Some(last) if **last == model => self.models.len() - 1,
            _ => {
                self.models.push(Arc::new(model));
                self.models.len() - 1
            }
        });
        self.per_row.push(index);
    }

    /// Resolves the model argument of a transform over `rows` rows: a struct (scalar or
    /// column), or the dictionary-encoded blob a one-liner broadcasts.
    pub fn resolve(function: &'static str, argument: &ColumnarValue, rows: usize) -> Result<Self> {
        let mut resolved = Self { models: Vec::new(), per_row: Vec::with_capacity(rows) };
        match argument {
            ColumnarValue::Scalar(scalar) => {
                let array = scalar.to_array_of_size(1)?;
                let single = Self::resolve(function, &ColumnarValue::Array(array), 1)?;
                let index = single.per_row.first().copied().flatten();
                resolved.models = single.models;
                resolved.per_row = vec![index; rows];
            }
            ColumnarValue::Array(array) => match array.data_type() {
                DataType::Null => resolved.per_row = vec![None; rows],
                DataType::Struct(_) => {
                    let structs = array.as_struct();
                    for row in 0..array.len() {
                        resolved.push(if structs.is_null(row) { None } else { Some(M::from_row(function, structs, row)?) });
                    }
                }
                DataType::Binary => {
                    let blobs: &BinaryArray = array.as_binary();
                    for row in 0..array.len() {
                        let model = if blobs.is_null(row) {
                            None
                        } else {
                            Some(M::from_row(function, &struct_from_blob(function, M::KIND, blobs.value(row))?, 0)?)
                        };
                        resolved.push(model);
                    }
                }
                DataType::Dictionary(key, _) if **key == DataType::Int32 => {
                    let dictionary: &DictionaryArray<Int32Type> = array.as_dictionary();
                    let values =
                        Self::resolve(function, &ColumnarValue::Array(Arc::clone(dictionary.values())), dictionary.values().len())?;
                    resolved.models = values.models;
                    for key in dictionary.keys().iter() {
                        let index = key.and_then(|k| usize::try_from(k).ok()).and_then(|k| values.per_row.get(k).copied().flatten());
                        resolved.per_row.push(index);
                    }
                }
                other => return Err(model_error::<M>(function, format!("expected a struct, got {other}"))),
            },
        }
        Ok(resolved)
    }
}

/// Rows grouped by model: consecutive runs of rows sharing a model, with NULL-model rows
/// left out.
pub fn runs(per_row: &[Option<usize>]) -> Vec<(usize, std::ops::Range<usize>)> {
    let mut runs: Vec<(usize, std::ops::Range<usize>)> = Vec::new();
    for (row, model) in per_row.iter().enumerate() {
        let Some(model) = *model else { continue };
        match runs.last_mut() {
            Some((last, range)) if *last == model && range.end == row => range.end = row + 1,
            _ => runs.push((model, row..row + 1)),
        }
    }
    runs
}
