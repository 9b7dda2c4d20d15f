//! Feature vectors as SQL values: `FIXED_SIZE_LIST`, `LIST` or `LARGE_LIST` of floats, one
//! vector per row. The fits and transforms read them in place and widen float32 to float64,
//! as Spark does when it turns an `array<float>` into an ML vector.

use crate::error::input_error;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, FixedSizeListArray, OffsetSizeTrait};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::{DataType, Field, Float32Type, Float64Type};
use datafusion::common::{Result, plan_err};
use std::sync::Arc;

/// The type a feature argument is coerced to: the same container, with integer or float16
/// items widened to float64. `None` when `data_type` is not a vector of numbers.
pub fn coerce_vector_type(data_type: &DataType) -> Option<DataType> {
    fn item(field: &Arc<Field>) -> Option<Arc<Field>> {
        match field.data_type() {
            DataType::Float32 | DataType::Float64 => Some(Arc::clone(field)),
            t if t.is_numeric() || t.is_null() => Some(Arc::new(Field::new_list_field(DataType::Float64, true))),
            _ => None,
        }
    }
    match data_type {
        DataType::FixedSizeList(field, size) => Some(DataType::FixedSizeList(item(field)?, *size)),
        DataType::List(field) => Some(DataType::List(item(field)?)),
        DataType::LargeList(field) => Some(DataType::LargeList(item(field)?)),
        DataType::Null => Some(DataType::List(Arc::new(Field::new_list_field(DataType::Float64, true)))),
        _ => None,
    }
}

/// [`coerce_vector_type`] as a planning error naming `function`.
pub fn coerce_vector_arg(function: &str, data_type: &DataType) -> Result<DataType> {
    match coerce_vector_type(data_type) {
        Some(coerced) => Ok(coerced),
        None => plan_err!("{function}: the features must be an array of numbers (FIXED_SIZE_LIST, LIST or LARGE_LIST), got {data_type}"),
    }
}

/// The coerced `(features, model)` arguments of a transform.
pub fn coerce_transform_args(function: &str, arg_types: &[DataType]) -> Result<Vec<DataType>> {
    let [features, model] = arg_types else {
        return plan_err!("{function} takes (features, model), got {} arguments", arg_types.len());
    };
    Ok(vec![coerce_vector_arg(function, features)?, model.clone()])
}

/// The vector length fixed by the type, if any.
pub fn fixed_length(data_type: &DataType) -> Option<usize> {
    match data_type {
        DataType::FixedSizeList(_, size) => usize::try_from(*size).ok(),
        _ => None,
    }
}

#[derive(Clone, Copy)]
enum Values<'a> {
    F32(&'a [f32]),
    F64(&'a [f64]),
}

#[derive(Clone, Copy)]
enum Offsets<'a> {
    Fixed { size: usize, first: usize },
    Small(&'a [i32]),
    Large(&'a [i64]),
}

/// Read access to a column of feature vectors.
pub struct VectorColumn<'a> {
    function: &'static str,
    len: usize,
    nulls: Option<&'a NullBuffer>,
    offsets: Offsets<'a>,
    values: Values<'a>,
    value_nulls: Option<&'a NullBuffer>,
    all_null: bool,
}

/// One row's vector, borrowed from its column.
#[derive(Clone, Copy)]
pub struct Vector<'a>(Values<'a>);

impl Vector<'_> {
    pub fn len(&self) -> usize {
        match self.0 {
            Values::F32(v) => v.len(),
            Values::F64(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes the vector, widened to float64, into `out` (of the vector's length).
    pub fn write_f64(&self, out: &mut [f64]) {
        match self.0 {
            Values::F32(v) => out.iter_mut().zip(v).for_each(|(o, x)| *o = f64::from(*x)),
            Values::F64(v) => out.copy_from_slice(v),
        }
    }
}

fn values_of<'a>(function: &'static str, child: &'a ArrayRef) -> Result<(Values<'a>, Option<&'a NullBuffer>)> {
    let values = match child.data_type() {
        DataType::Float32 => Values::F32(child.as_primitive::<Float32Type>().values()),
        DataType::Float64 => Values::F64(child.as_primitive::<Float64Type>().values()),
        DataType::Null => Values::F64(&[]),
        other => return Err(input_error(function, format!("vector items must be float or double, got {other}"))),
    };
    Ok((values, child.nulls().filter(|n| n.null_count() > 0)))
}

fn offset<O: OffsetSizeTrait>(value: O) -> usize {
    value.as_usize()
}

impl<'a> VectorColumn<'a> {
    /// A view of `array`, which must have a type [`coerce_vector_type`] returns unchanged.
    pub fn try_new(function: &'static str, array: &'a ArrayRef) -> Result<Self> {
        let len = array.len();
        let nulls = array.nulls();
        let (offsets, (values, value_nulls)) = match array.data_type() {
            DataType::FixedSizeList(_, _) => {
                let list: &FixedSizeListArray = array.as_fixed_size_list();
                let size = usize::try_from(list.value_length()).unwrap_or(0);
                let first = list.offset() * size;
                (Offsets::Fixed { size, first }, values_of(function, list.values())?)
            }
            DataType::List(_) => {
                let list = array.as_list::<i32>();
                (Offsets::Small(list.value_offsets()), values_of(function, list.values())?)
            }
            DataType::LargeList(_) => {
                let list = array.as_list::<i64>();
                (Offsets::Large(list.value_offsets()), values_of(function, list.values())?)
            }
            DataType::Null => (Offsets::Fixed { size: 0, first: 0 }, (Values::F64(&[]), None)),
            other => return Err(input_error(function, format!("the features must be an array of numbers, got {other}"))),
        };
        let all_null = array.data_type().is_null();
        Ok(Self { function, len, nulls, offsets, values, value_nulls, all_null })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn range(&self, row: usize) -> (usize, usize) {
        match self.offsets {
            Offsets::Fixed { size, first } => (first + row * size, first + (row + 1) * size),
            Offsets::Small(o) => (offset(o[row]), offset(o[row + 1])),
            Offsets::Large(o) => (offset(o[row]), offset(o[row + 1])),
        }
    }

    fn is_null(&self, row: usize) -> bool {
        self.all_null || self.nulls.is_some_and(|n| n.is_null(row))
    }

    /// Row `row`'s vector, or `None` for a NULL row. A NULL item inside a vector is an
    /// error: an ML vector has no NULLs (Spark's `array_to_vector` throws on them too).
    pub fn get(&self, row: usize) -> Result<Option<Vector<'a>>> {
        if self.is_null(row) {
            return Ok(None);
        }
        let (start, end) = self.range(row);
        if let Some(value_nulls) = self.value_nulls
            && let Some(position) = (start..end).position(|i| value_nulls.is_null(i))
        {
            return Err(input_error(
                self.function,
                format!("row {row} has a NULL at vector position {}; filter or fill NULL items first", position + 1),
            ));
        }
        Ok(Some(Vector(match self.values {
            Values::F32(v) => Values::F32(&v[start..end]),
            Values::F64(v) => Values::F64(&v[start..end]),
        })))
    }
}

/// Builds a column of double vectors: `FIXED_SIZE_LIST<DOUBLE, n>` when every vector has the
/// fixed length `n`, `LIST<DOUBLE>` otherwise.
pub struct VectorBuilder {
    fixed: Option<usize>,
    values: Vec<f64>,
    lengths: Vec<usize>,
    valid: Vec<bool>,
}

impl VectorBuilder {
    pub fn new(fixed: Option<usize>, rows: usize) -> Self {
        Self { fixed, values: Vec::new(), lengths: Vec::with_capacity(rows), valid: Vec::with_capacity(rows) }
    }

    /// The output type for vectors of fixed length `fixed`, if any.
    pub fn data_type(fixed: Option<usize>) -> DataType {
        let item = Arc::new(Field::new_list_field(DataType::Float64, true));
        match fixed.and_then(|n| i32::try_from(n).ok()) {
            Some(n) => DataType::FixedSizeList(item, n),
            None => DataType::List(item),
        }
    }

    pub fn push_null(&mut self) {
        let filler = self.fixed.unwrap_or(0);
        self.values.resize(self.values.len() + filler, 0.0);
        self.lengths.push(filler);
        self.valid.push(false);
    }

    /// Appends a vector of `len` values written by `fill`.
    pub fn push_with(&mut self, len: usize, fill: impl FnOnce(&mut [f64])) {
        let start = self.values.len();
        self.values.resize(start + len, 0.0);
        fill(&mut self.values[start..]);
        self.lengths.push(len);
        self.valid.push(true);
    }

    pub fn finish(self) -> Result<ArrayRef> {
        use datafusion::arrow::array::{FixedSizeListArray, Float64Array, ListArray};
        use datafusion::arrow::buffer::OffsetBuffer;
        let item = Arc::new(Field::new_list_field(DataType::Float64, true));
        let nulls = self.valid.iter().any(|v| !v).then(|| NullBuffer::from(self.valid.clone()));
        let values: ArrayRef = Arc::new(Float64Array::from(self.values));
        Ok(match self.fixed.and_then(|n| i32::try_from(n).ok()) {
            Some(n) => Arc::new(FixedSizeListArray::try_new(item, n, values, nulls)?),
            None => Arc::new(ListArray::try_new(item, OffsetBuffer::from_lengths(self.lengths), values, nulls)?),
        })
    }
}
