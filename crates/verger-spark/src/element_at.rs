use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array, OffsetSizeTrait, UInt64Array};
use datafusion::arrow::compute::kernels::cmp::eq;
use datafusion::arrow::compute::{cast, take};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::{ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};
use std::sync::{Arc, LazyLock};

/// Spark's `element_at(array, index)` / `element_at(map, key)` and `try_element_at`.
///
/// - Arrays are 1-based; a negative index counts from the end (`-1` is the last element).
/// - Index 0 is always an error: `[INVALID_INDEX_OF_ZERO]`.
/// - Out of range: with ANSI mode on (`datafusion.execution.enable_ansi_mode = true`,
///   verger's default, as in Spark 4) `element_at` raises
///   `[INVALID_ARRAY_INDEX_IN_ELEMENT_AT]`; `try_element_at`, or ANSI off, gives NULL.
/// - Maps: the value for the key, or NULL when the key is absent (Spark 3.4+, ANSI or not).
/// - A NULL array, map, index or key gives NULL.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ElementAt {
    name: &'static str,
    /// `try_element_at`: out-of-range gives NULL whatever the ANSI mode.
    tolerant: bool,
    signature: Signature,
}

impl ElementAt {
    pub fn new() -> Self {
        Self { name: "element_at", tolerant: false, signature: Signature::user_defined(Volatility::Immutable) }
    }

    pub fn try_variant() -> Self {
        Self { name: "try_element_at", tolerant: true, signature: Signature::user_defined(Volatility::Immutable) }
    }
}

impl Default for ElementAt {
    fn default() -> Self {
        Self::new()
    }
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        datafusion::logical_expr::DocSection { include: true, label: "Spark Functions", description: None },
        "Returns the element of an array at a 1-based index (negative counts from the end), or the value of a map for a key, with Spark's semantics.",
        "element_at(array, index) | element_at(map, key)",
    )
    .with_sql_example("SELECT element_at(split('file:/data/Apple/0_100.jpg', '/'), -2); -- Apple")
    .with_argument("array", "An array, or a map")
    .with_argument("index", "1-based index (negative from the end; 0 is an error), or a map key")
    .build()
});

fn index_of_zero<T>() -> Result<T> {
    exec_err!(
        "[INVALID_INDEX_OF_ZERO] The index 0 is invalid. An index shall be either < 0 or > 0 (the first element has index 1). SQLSTATE: 22003"
    )
}

impl ScalarUDFImpl for ElementAt {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [collection, index] = arg_types else {
            return plan_err!("{} takes 2 arguments (array, index) or (map, key), got {}", self.name, arg_types.len());
        };
        match collection {
            DataType::List(_) | DataType::LargeList(_) => {}
            DataType::FixedSizeList(field, _) => {
                return Ok(vec![DataType::List(Arc::clone(field)), integer_index(self.name, index)?]);
            }
            DataType::Map(entries, _) => {
                let key = match entries.data_type() {
                    DataType::Struct(fields) => fields.first().map(|f| f.data_type().clone()),
                    _ => None,
                };
                let Some(key) = key else {
                    return plan_err!("{}: malformed map type {collection}", self.name);
                };
                return Ok(vec![collection.clone(), key]);
            }
            DataType::Null => return Ok(vec![DataType::Null, index.clone()]),
            other => return plan_err!("{} expects an array or a map as first argument, got {other}", self.name),
        }
        Ok(vec![collection.clone(), integer_index(self.name, index)?])
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types.first() {
            Some(DataType::List(field) | DataType::LargeList(field) | DataType::FixedSizeList(field, _)) => Ok(field.data_type().clone()),
            Some(DataType::Map(entries, _)) => match entries.data_type() {
                DataType::Struct(fields) if fields.len() == 2 => Ok(fields[1].data_type().clone()), // [key, value]
                other => plan_err!("{}: malformed map entries {other}", self.name),
            },
            Some(DataType::Null) => Ok(DataType::Null),
            other => plan_err!("{} expects an array or a map, got {other:?}", self.name),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let ansi = args.config_options.execution.enable_ansi_mode && !self.tolerant;
        let all_scalar = args.args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [collection, index] = arrays.as_slice() else {
            return exec_err!("{} takes 2 arguments", self.name);
        };
        let result = match collection.data_type() {
            DataType::List(_) => list_element::<i32>(collection, index, ansi)?,
            DataType::LargeList(_) => list_element::<i64>(collection, index, ansi)?,
            DataType::Map(_, _) => map_value(collection, index)?,
            DataType::Null => Arc::new(datafusion::arrow::array::NullArray::new(collection.len())),
            other => return exec_err!("{} expects an array or a map, got {other}", self.name),
        };
        if all_scalar {
            Ok(ColumnarValue::Scalar(datafusion::common::ScalarValue::try_from_array(&result, 0)?))
        } else {
            Ok(ColumnarValue::Array(result))
        }
    }
}

fn integer_index(name: &str, index: &DataType) -> Result<DataType> {
    if index.is_integer() || index.is_null() {
        Ok(DataType::Int64)
    } else {
        plan_err!("{name} expects an integer index for an array, got {index}")
    }
}

/// Picks one element per row with `take`: NULL where the array, the index or the element is
/// NULL, or the index is out of range (unless ANSI mode makes that an error).
fn list_element<O: OffsetSizeTrait>(lists: &ArrayRef, index: &ArrayRef, ansi: bool) -> Result<ArrayRef> {
    let lists = lists.as_list::<O>();
    let index = cast(index, &DataType::Int64)?;
    let index: &Int64Array = index.as_primitive();
    let offsets = lists.value_offsets();
    let mut positions: Vec<Option<u64>> = Vec::with_capacity(lists.len());
    for row in 0..lists.len() {
        if lists.is_null(row) || index.is_null(row) {
            positions.push(None);
            continue;
        }
        let start = offsets[row].as_usize();
        let length = offsets[row + 1].as_usize() - start;
        let i = index.value(row);
        let zero_based = match i {
            0 => return index_of_zero(),
            i if i > 0 => usize::try_from(i - 1).ok().filter(|&p| p < length),
            i => usize::try_from(i.unsigned_abs()).ok().filter(|&back| back <= length).map(|back| length - back),
        };
        match zero_based {
            Some(p) => positions.push(Some((start + p) as u64)),
            None if ansi => {
                return exec_err!(
                    "[INVALID_ARRAY_INDEX_IN_ELEMENT_AT] The index {i} is out of bounds. The array has {length} elements. Use `try_element_at` to tolerate accessing element at invalid index and return NULL instead. If necessary set \"datafusion.execution.enable_ansi_mode\" to \"false\" to bypass this error. SQLSTATE: 22003"
                );
            }
            None => positions.push(None),
        }
    }
    Ok(take(lists.values().as_ref(), &UInt64Array::from(positions), None)?)
}

/// The value of the first entry whose key equals the row's key; NULL when absent.
fn map_value(maps: &ArrayRef, keys: &ArrayRef) -> Result<ArrayRef> {
    let maps = maps.as_map();
    let offsets = maps.value_offsets();
    let mut positions: Vec<Option<u64>> = Vec::with_capacity(maps.len());
    for row in 0..maps.len() {
        if maps.is_null(row) || keys.is_null(row) {
            positions.push(None);
            continue;
        }
        let start = offsets[row] as usize;
        let length = offsets[row + 1] as usize - start;
        let entry_keys = maps.keys().slice(start, length);
        let wanted = datafusion::arrow::array::Scalar::new(keys.slice(row, 1));
        let matches = eq(&entry_keys, &wanted)?;
        let found = matches.iter().position(|m| m == Some(true));
        positions.push(found.map(|p| (start + p) as u64));
    }
    Ok(take(maps.values().as_ref(), &UInt64Array::from(positions), None)?)
}
