//! What the image functions share: argument checking, the session snapshot, error policy.

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DataFusionError, Result, ScalarValue, exec_err, plan_err};
use datafusion::config::ConfigOptions;
use datafusion::logical_expr::{ColumnarValue, DocSection, ScalarFunctionArgs};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use verger_config::{OnError, VergerConfig};
use verger_storage::{NullRow, report_nulls};
use verger_tensors::{DecodeLimits, ImageError};

pub(crate) const DOC_SECTION: DocSection =
    DocSection { include: true, label: "Image functions", description: Some("verger's functions over image bytes (binaryFile's content)") };

/// The session settings a function saw at planning (kept up to date by `with_updated_config`):
/// return types depend on the registered models. Equality looks at verger's settings only.
#[derive(Debug, Clone)]
pub(crate) struct SessionSnapshot {
    pub verger: VergerConfig,
    pub options: Arc<ConfigOptions>,
}

impl SessionSnapshot {
    pub fn of(options: &ConfigOptions) -> Self {
        Self { verger: VergerConfig::from_options(options), options: Arc::new(options.clone()) }
    }
}

impl Default for SessionSnapshot {
    fn default() -> Self {
        Self::of(&ConfigOptions::new())
    }
}

impl PartialEq for SessionSnapshot {
    fn eq(&self, other: &Self) -> bool {
        self.verger == other.verger
    }
}

impl Eq for SessionSnapshot {}

impl Hash for SessionSnapshot {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.verger.hash(state);
    }
}

fn is_string(data_type: &DataType) -> bool {
    matches!(data_type, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null)
}

/// Argument types of `function(content [, model] [, path])`: `with_model` says whether the
/// function takes a model name (the path argument is added by verger's planner, see
/// `ImagePathRule`, and may be written by hand).
pub(crate) fn coerce_image_args(function: &str, arg_types: &[DataType], with_model: bool) -> Result<Vec<DataType>> {
    let max = if with_model { 3 } else { 2 };
    if arg_types.is_empty() || arg_types.len() > max {
        let usage = if with_model { format!("{function}(content [, model_name])") } else { format!("{function}(content)") };
        return plan_err!("{function} takes the image bytes{}: {usage}", if with_model { " and optionally a model name" } else { "" });
    }
    let mut coerced = Vec::with_capacity(arg_types.len());
    match &arg_types[0] {
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => coerced.push(arg_types[0].clone()),
        DataType::Null | DataType::FixedSizeBinary(_) => coerced.push(DataType::Binary),
        other => return plan_err!("{function} expects image bytes (a BINARY value such as binaryFile's content), not {other}"),
    }
    for (i, data_type) in arg_types.iter().enumerate().skip(1) {
        if !is_string(data_type) {
            let what = if with_model && i == 1 { "the model name" } else { "the file path" };
            return plan_err!("{function}: {what} must be a string, not {data_type}");
        }
        coerced.push(DataType::Utf8);
    }
    Ok(coerced)
}

/// The model named by a call at planning: its literal second argument, else the default.
pub(crate) fn planned_model(function: &str, scalar_arguments: &[Option<&ScalarValue>], default: &str) -> Result<String> {
    match scalar_arguments.get(1) {
        None => Ok(default.to_owned()),
        Some(Some(value)) => model_name_of(function, value, default),
        Some(None) => plan_err!("{function}: the model name must be a constant string such as 'efficientnet_lite0'"),
    }
}

fn model_name_of(function: &str, value: &ScalarValue, default: &str) -> Result<String> {
    let text = match value {
        ScalarValue::Utf8(v) | ScalarValue::LargeUtf8(v) | ScalarValue::Utf8View(v) => v.clone(),
        ScalarValue::Null => None,
        other => return plan_err!("{function}: the model name must be a string, not {}", other.data_type()),
    };
    match text {
        None => Ok(default.to_owned()),
        Some(name) => match verger_config::normalise_model_name(&name) {
            Some(name) => Ok(name),
            None => plan_err!("{function}: '{name}' is not a model name"),
        },
    }
}

/// The arguments of one call, as arrays of the batch's length.
pub(crate) struct ImageArgs {
    pub contents: ArrayRef,
    pub paths: Option<ArrayRef>,
    pub model: String,
    pub config: VergerConfig,
    pub options: Arc<ConfigOptions>,
}

impl ImageArgs {
    pub fn new(function: &str, args: &ScalarFunctionArgs, with_model: bool) -> Result<Self> {
        let config = VergerConfig::from_options(&args.config_options);
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let Some(contents) = arrays.first().cloned() else {
            return exec_err!("{function} needs the image bytes");
        };
        let (model, path_index) = if with_model {
            let model = match args.args.get(1) {
                None => config.default_model.clone(),
                Some(ColumnarValue::Scalar(value)) => model_name_of(function, value, &config.default_model)?,
                Some(ColumnarValue::Array(_)) => return exec_err!("{function}: the model name must be a constant string"),
            };
            (model, 2)
        } else {
            (String::new(), 1)
        };
        Ok(Self { contents, paths: arrays.get(path_index).cloned(), model, config, options: Arc::clone(&args.config_options) })
    }

    pub fn limits(&self) -> DecodeLimits {
        DecodeLimits { max_pixels: self.config.images_max_pixels }
    }

    /// The image bytes of each row (None for NULL).
    pub fn images(&self) -> Result<Vec<Option<&[u8]>>> {
        let array = &self.contents;
        Ok(match array.data_type() {
            DataType::Binary => array.as_binary::<i32>().iter().collect(),
            DataType::LargeBinary => array.as_binary::<i64>().iter().collect(),
            DataType::BinaryView => array.as_binary_view().iter().collect(),
            DataType::Null => vec![None; array.len()],
            other => return exec_err!("image bytes must be BINARY, not {other}"),
        })
    }

    fn path(&self, row: usize) -> Option<String> {
        let array = self.paths.as_ref()?;
        if array.is_null(row) {
            return None;
        }
        match array.data_type() {
            DataType::Utf8 => Some(array.as_string::<i32>().value(row).to_owned()),
            DataType::LargeUtf8 => Some(array.as_string::<i64>().value(row).to_owned()),
            DataType::Utf8View => Some(array.as_string_view().value(row).to_owned()),
            _ => None,
        }
    }

    /// Applies `verger.images.on_error` to per-row outcomes: the first failure fails the call
    /// under `fail`; under `null` failures become NULL, reported to the client that ran the
    /// statement (`verger_storage::report_nulls`), or logged where no client asked.
    pub fn settle<T>(&self, function: &str, rows: Vec<std::result::Result<Option<T>, ImageError>>) -> Result<Vec<Option<T>>> {
        let mut settled = Vec::with_capacity(rows.len());
        let mut nulls = Vec::new();
        for (row, outcome) in rows.into_iter().enumerate() {
            match outcome {
                Ok(value) => settled.push(value),
                Err(error) => match self.config.images_on_error {
                    OnError::Fail => {
                        let message = self.row_error(function, row, &error);
                        return Err(DataFusionError::Execution(format!(
                            "{message} (SET verger.images.on_error = 'null' to get NULL for such images instead)"
                        )));
                    }
                    OnError::Null => {
                        nulls.push((row, error));
                        settled.push(None);
                    }
                },
            }
        }
        if !nulls.is_empty() {
            let report: Vec<NullRow> = nulls
                .iter()
                .map(|(row, error)| {
                    let path = self.path(*row);
                    // Without a path, the reason says which row of the batch it was.
                    let reason = if path.is_some() { error.to_string() } else { self.row_error(function, *row, error) };
                    NullRow { path, source: function.to_owned(), reason }
                })
                .collect();
            if !report_nulls(&self.options, &report) {
                for (row, error) in &nulls {
                    log::warn!("{}; NULL returned (verger.images.on_error = 'null')", self.row_error(function, *row, error));
                }
            }
        }
        Ok(settled)
    }

    fn row_error(&self, function: &str, row: usize, error: &ImageError) -> String {
        match self.path(row) {
            Some(path) => format!("{function}: cannot read the image {path}: {error}"),
            None => format!(
                "{function}: cannot read the image in row {row} of its batch (select the file's path from the same table to have it named): {error}"
            ),
        }
    }
}
