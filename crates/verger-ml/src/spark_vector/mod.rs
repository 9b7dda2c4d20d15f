//! Spark ML's vectors (`pyspark.ml.linalg.Vector`, the `VectorUDT`) as Arrow values: the
//! struct `(type TINYINT, size INT, indices ARRAY<INT>, values ARRAY<DOUBLE>)` Spark stores and
//! sends them as — type 1 is dense (`values` only), type 0 sparse (`size` items, the
//! `values` at `indices`, zeros elsewhere). A column of this exact struct type is a vector
//! column: Spark Connect tells the client it is a `VectorUDT`, and the ML functions read it.
//! `array_to_vector`, `vector_to_array` and `vector_assemble` convert to and from verger's
//! plain `ARRAY<DOUBLE>` features.

mod assemble;
mod from_array;
mod to_array;

pub use assemble::VectorAssemble;
pub use from_array::ArrayToVector;
pub use to_array::VectorToArray;

use crate::error::input_error;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int8Array, Int32Array, ListArray, StructArray};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::arrow::datatypes::{DataType, Field, Fields, Float64Type, Int8Type, Int32Type};
use datafusion::common::Result;
use std::sync::Arc;

const SPARSE: i8 = 0;
const DENSE: i8 = 1;

fn item_list(item: DataType) -> DataType {
    DataType::List(Arc::new(Field::new_list_field(item, false)))
}

fn fields() -> Fields {
    Fields::from(vec![
        Field::new("type", DataType::Int8, false),
        Field::new("size", DataType::Int32, true),
        Field::new("indices", item_list(DataType::Int32), true),
        Field::new("values", item_list(DataType::Float64), true),
    ])
}

/// The Arrow type of a Spark ML vector column.
pub fn spark_vector_type() -> DataType {
    DataType::Struct(fields())
}

/// Whether `data_type` is a Spark ML vector: the struct of [`spark_vector_type`], whatever the
/// nullability its producer gave the fields and list items.
pub fn is_spark_vector(data_type: &DataType) -> bool {
    let DataType::Struct(actual) = data_type else { return false };
    let wanted = fields();
    actual.len() == wanted.len()
        && actual.iter().zip(wanted.iter()).all(|(a, w)| {
            a.name() == w.name()
                && match (a.data_type(), w.data_type()) {
                    (DataType::List(a), DataType::List(w)) => a.data_type() == w.data_type(),
                    (a, w) => a == w,
                }
        })
}

/// Read access to a column of Spark ML vectors.
pub struct SparkVectorColumn<'a> {
    function: &'static str,
    array: &'a StructArray,
    kinds: &'a Int8Array,
    sizes: &'a Int32Array,
    indices: &'a ListArray,
    index_items: &'a [i32],
    values: &'a ListArray,
    value_items: &'a [f64],
}

impl<'a> SparkVectorColumn<'a> {
    pub fn try_new(function: &'static str, array: &'a ArrayRef) -> Result<Self> {
        if !is_spark_vector(array.data_type()) {
            return Err(input_error(function, format!("expected a Spark ML vector column, got {}", array.data_type())));
        }
        let array = array.as_struct();
        let indices = array.column(2).as_list::<i32>();
        let values = array.column(3).as_list::<i32>();
        Ok(Self {
            function,
            array,
            kinds: array.column(0).as_primitive::<Int8Type>(),
            sizes: array.column(1).as_primitive::<Int32Type>(),
            index_items: indices.values().as_primitive::<Int32Type>().values(),
            indices,
            value_items: values.values().as_primitive::<Float64Type>().values(),
            values,
        })
    }

    fn items<'b, T>(list: &ListArray, items: &'b [T], row: usize) -> &'b [T] {
        let offsets = list.value_offsets();
        let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
        &items[start..end]
    }

    /// Row `row`'s size (number of features), `None` for a NULL vector.
    pub fn size(&self, row: usize) -> Result<Option<usize>> {
        if self.array.is_null(row) {
            return Ok(None);
        }
        match self.kinds.value(row) {
            DENSE if self.values.is_valid(row) => Ok(Some(Self::items(self.values, self.value_items, row).len())),
            SPARSE if self.sizes.is_valid(row) => usize::try_from(self.sizes.value(row))
                .map(Some)
                .map_err(|_| input_error(self.function, format!("row {row} is a sparse vector of negative size"))),
            kind => Err(input_error(self.function, format!("row {row} is not a valid Spark ML vector (type {kind})"))),
        }
    }

    /// Appends row `row`'s values, sparse ones expanded, to `out`; false for a NULL vector.
    pub fn extend_dense(&self, row: usize, out: &mut Vec<f64>) -> Result<bool> {
        let Some(size) = self.size(row)? else { return Ok(false) };
        let values = Self::items(self.values, self.value_items, row);
        if self.kinds.value(row) == DENSE {
            out.extend_from_slice(values);
            return Ok(true);
        }
        let indices = if self.indices.is_valid(row) { Self::items(self.indices, self.index_items, row) } else { &[] };
        if indices.len() != values.len() {
            return Err(input_error(
                self.function,
                format!("row {row} is a sparse vector with {} indices but {} values", indices.len(), values.len()),
            ));
        }
        let start = out.len();
        out.resize(start + size, 0.0);
        for (index, value) in indices.iter().zip(values) {
            match usize::try_from(*index).ok().filter(|i| *i < size) {
                Some(i) => out[start + i] = *value,
                None => {
                    return Err(input_error(self.function, format!("row {row} is a sparse vector of size {size} with index {index}")));
                }
            }
        }
        Ok(true)
    }
}

/// Builds a column of Spark ML vectors.
#[derive(Default)]
pub struct SparkVectorBuilder {
    kinds: Vec<i8>,
    sizes: Vec<Option<i32>>,
    index_lengths: Vec<usize>,
    indices: Vec<i32>,
    value_lengths: Vec<usize>,
    values: Vec<f64>,
    valid: Vec<bool>,
}

impl SparkVectorBuilder {
    pub fn with_capacity(rows: usize) -> Self {
        Self {
            kinds: Vec::with_capacity(rows),
            sizes: Vec::with_capacity(rows),
            index_lengths: Vec::with_capacity(rows),
            value_lengths: Vec::with_capacity(rows),
            valid: Vec::with_capacity(rows),
            ..Self::default()
        }
    }

    pub fn push_null(&mut self) {
        self.kinds.push(DENSE);
        self.sizes.push(None);
        self.index_lengths.push(0);
        self.value_lengths.push(0);
        self.valid.push(false);
    }

    pub fn push_dense(&mut self, values: &[f64]) {
        self.kinds.push(DENSE);
        self.sizes.push(None);
        self.index_lengths.push(0);
        self.value_lengths.push(values.len());
        self.values.extend_from_slice(values);
        self.valid.push(true);
    }

    /// Appends `values` in the smaller of the two forms, as Spark's `Vector.compressed` does
    /// (sparse when `1.5 · (nonzeros + 1) < size`), so that results show as Spark's do.
    pub fn push_compressed(&mut self, values: &[f64]) -> Result<()> {
        let nonzeros = values.iter().filter(|v| **v != 0.0).count();
        if 1.5 * (nonzeros as f64 + 1.0) >= values.len() as f64 {
            self.push_dense(values);
            return Ok(());
        }
        let size = i32::try_from(values.len()).map_err(|_| input_error("vector", "a vector of more than 2^31 items"))?;
        self.kinds.push(SPARSE);
        self.sizes.push(Some(size));
        let before = self.indices.len();
        for (index, value) in values.iter().enumerate().filter(|(_, v)| **v != 0.0) {
            self.indices.push(index as i32);
            self.values.push(*value);
        }
        self.index_lengths.push(self.indices.len() - before);
        self.value_lengths.push(self.indices.len() - before);
        self.valid.push(true);
        Ok(())
    }

    pub fn finish(self) -> Result<ArrayRef> {
        let list = |lengths: Vec<usize>, items: ArrayRef, item: DataType, nulls: Option<NullBuffer>| -> Result<ArrayRef> {
            Ok(Arc::new(ListArray::try_new(
                Arc::new(Field::new_list_field(item, false)),
                OffsetBuffer::from_lengths(lengths),
                items,
                nulls,
            )?))
        };
        let sparse: Vec<bool> = self.kinds.iter().zip(&self.valid).map(|(k, v)| *v && *k == SPARSE).collect();
        let dense_or_sparse = self.valid.clone();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int8Array::from(self.kinds)),
            Arc::new(Int32Array::from(self.sizes)),
            list(self.index_lengths, Arc::new(Int32Array::from(self.indices)), DataType::Int32, Some(NullBuffer::from(sparse)))?,
            list(
                self.value_lengths,
                Arc::new(Float64Array::from(self.values)),
                DataType::Float64,
                Some(NullBuffer::from(dense_or_sparse)),
            )?,
        ];
        let nulls = self.valid.iter().any(|v| !v).then(|| NullBuffer::from(self.valid));
        Ok(Arc::new(StructArray::try_new(fields(), columns, nulls)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_round_trip_dense_and_sparse() -> Result<()> {
        let mut builder = SparkVectorBuilder::with_capacity(3);
        builder.push_compressed(&[1.0, 2.0, 3.0])?;
        builder.push_null();
        builder.push_compressed(&[0.0, 0.0, 0.0, 4.0, 0.0, 0.0])?;
        let array = builder.finish()?;
        assert!(is_spark_vector(array.data_type()));
        let column = SparkVectorColumn::try_new("test", &array)?;
        let mut out = Vec::new();
        assert!(column.extend_dense(0, &mut out)?);
        assert!(!column.extend_dense(1, &mut out)?);
        assert!(column.extend_dense(2, &mut out)?);
        assert_eq!(out, vec![1.0, 2.0, 3.0, 0.0, 0.0, 0.0, 4.0, 0.0, 0.0]);
        assert_eq!(array.as_struct().column(0).as_primitive::<Int8Type>().values().to_vec(), vec![DENSE, DENSE, SPARSE]);
        Ok(())
    }

    #[test]
    fn a_sparse_index_out_of_range_is_an_error() -> Result<()> {
        let mut builder = SparkVectorBuilder::with_capacity(1);
        builder.push_compressed(&[0.0, 0.0, 0.0, 0.0, 5.0])?;
        let array = builder.finish()?;
        let parts = array.as_struct();
        let bad_sizes: ArrayRef = Arc::new(Int32Array::from(vec![Some(3)]));
        let bad = StructArray::try_new(
            fields(),
            vec![Arc::clone(parts.column(0)), bad_sizes, Arc::clone(parts.column(2)), Arc::clone(parts.column(3))],
            None,
        )?;
        let bad: ArrayRef = Arc::new(bad);
        let Err(error) = SparkVectorColumn::try_new("test", &bad)?.extend_dense(0, &mut Vec::new()) else {
            panic!("an index past the size was accepted");
        };
        assert!(error.to_string().contains("size 3 with index 4"), "{error}");
        Ok(())
    }
}
