//! The one-liners' SQL names: `pca(features [, k])`. Each stands for a fit and a transform;
//! [`super::FitTransformRule`] rewrites every call before anything runs, so these
//! functions only type-check the call.

use crate::args::DOC_SECTION;
use crate::model::model_blob;
use crate::vectors::{VectorBuilder, coerce_vector_arg, fixed_length};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, BinaryArray, DictionaryArray, Int32Array};
use datafusion::arrow::datatypes::{DataType, Int32Type};
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::{ColumnarValue, Documentation, Expr, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility, lit};
use std::sync::{Arc, LazyLock};

/// A one-liner: its SQL name, the fit aggregate and transform it stands for, and the
/// defaults of the fit's optional arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OneLinerSpec {
    pub name: &'static str,
    pub fit: &'static str,
    pub transform: &'static str,
    /// Fit arguments after the features: (min given, max given).
    pub parameters: (usize, usize),
}

impl OneLinerSpec {
    /// The fit's arguments after the features, defaults filled in.
    pub fn fit_parameters(&self, given: &[Expr]) -> Vec<Expr> {
        match (self.name, given) {
            (PCA | PCA_EXPLAINED_VARIANCE, []) => vec![lit(DEFAULT_PCA_VARIANCE)],
            _ => given.to_vec(),
        }
    }
}

pub const PCA: &str = "pca";
pub const STANDARDIZE: &str = "standardize";
pub const PCA_EXPLAINED_VARIANCE: &str = "pca_explained_variance";
/// `pca(features)` keeps the fewest components explaining 90 % of the variance, the
/// seeds' choice.
pub const DEFAULT_PCA_VARIANCE: f64 = 0.9;

pub const ONE_LINERS: &[OneLinerSpec] = &[
    OneLinerSpec { name: PCA, fit: "pca_fit", transform: "pca_transform", parameters: (0, 1) },
    OneLinerSpec { name: STANDARDIZE, fit: "standard_scaler_fit", transform: "standard_scale", parameters: (0, 2) },
    OneLinerSpec { name: PCA_EXPLAINED_VARIANCE, fit: "pca_fit", transform: super::explained::NAME, parameters: (0, 1) },
];

pub fn one_liner(name: &str) -> Option<&'static OneLinerSpec> {
    ONE_LINERS.iter().find(|spec| spec.name == name)
}

/// `pca(features [, k])` and `standardize(features [, with_mean, with_std])`: a fit on all
/// the rows the SELECT sees, applied to each.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OneLinerFunction {
    spec: OneLinerSpec,
    signature: Signature,
}

impl OneLinerFunction {
    pub fn new(spec: OneLinerSpec) -> Self {
        Self { spec, signature: Signature::user_defined(Volatility::Immutable) }
    }
}

static PCA_DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION,
        "PCA in one call: fits pca_fit(features, k) on every row the SELECT sees (after WHERE) and returns \
         pca_transform(features, model) for each row. Planned as a distributed two-phase fit whose model is broadcast \
         to the transform; an input computed by a function (e.g. image_features) is materialised once \
         (verger.materialize.dir) and read back, never computed twice. k defaults to 0.9: the fewest components \
         explaining 90 % of the variance. Allowed only in a SELECT list.",
        "pca(features [, k])",
    )
    .with_argument("features", "Vectors: an array of numbers, all of one length.")
    .with_argument("k", "A constant: a number of components, or a fraction in (0, 1] of variance to explain (default 0.9).")
    .with_sql_example("SELECT label, pca(image_features(content), 0.9) AS pca_features FROM images")
    .build()
});

static PCA_EXPLAINED_VARIANCE_DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION,
        "The share of the total variance kept by pca(features, k), as a DOUBLE on every row: the sum of the fitted \
         model's explained_variance (Spark: PCAModel.explainedVariance.sum()). In the same SELECT as pca() with the \
         same arguments, both use one fit. Allowed only in a SELECT list.",
        "pca_explained_variance(features [, k])",
    )
    .with_argument("features", "Vectors: an array of numbers, all of one length.")
    .with_argument("k", "As for pca(): a number of components or a fraction of variance (default 0.9).")
    .with_sql_example("SELECT label, pca(f, 0.9) AS pca_features, pca_explained_variance(f, 0.9) AS explained FROM t")
    .build()
});

static STANDARDIZE_DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION,
        "StandardScaler in one call: fits standard_scaler_fit(features, with_mean, with_std) on every row the SELECT \
         sees and returns standard_scale(features, model) for each row, planned like pca(). Defaults as in Spark: \
         with_mean FALSE, with_std TRUE. Allowed only in a SELECT list; nests: pca(standardize(f, true, true), 0.9).",
        "standardize(features [, with_mean, with_std])",
    )
    .with_argument("features", "Vectors: an array of numbers, all of one length.")
    .with_argument("with_mean", "Centre on the mean (constant, default FALSE).")
    .with_argument("with_std", "Divide by the sample standard deviation (constant, default TRUE).")
    .with_sql_example("SELECT label, pca(standardize(image_features(content), true, true), 0.9) AS pca_features FROM images")
    .build()
});

impl ScalarUDFImpl for OneLinerFunction {
    fn name(&self) -> &str {
        self.spec.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let (min, max) = self.spec.parameters;
        let Some((features, parameters)) = arg_types.split_first() else {
            return plan_err!("{} takes (features [, k])", self.spec.name);
        };
        if parameters.len() < min || parameters.len() > max {
            return plan_err!("{} takes (features [, k]), got {} arguments", self.spec.name, arg_types.len());
        }
        let mut coerced = vec![coerce_vector_arg(self.spec.name, features)?];
        match self.spec.name {
            STANDARDIZE => coerced.extend(parameters.iter().map(|_| DataType::Boolean)),
            _ => coerced.extend(parameters.iter().cloned()),
        }
        Ok(coerced)
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        // The transform's type: standard_scale keeps a fixed length, pca_transform cannot.
        Ok(match self.spec.name {
            STANDARDIZE => VectorBuilder::data_type(arg_types.first().and_then(fixed_length)),
            PCA_EXPLAINED_VARIANCE => DataType::Float64,
            _ => VectorBuilder::data_type(None),
        })
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        exec_err!(
            "{}() runs as a fit plus a transform, which verger's fit-transform planning rule sets up; this session \
             does not have the rule: build it with verger::session_context() or call verger::register_all",
            self.spec.name
        )
    }

    fn documentation(&self) -> Option<&Documentation> {
        match self.spec.name {
            PCA => Some(&PCA_DOCUMENTATION),
            STANDARDIZE => Some(&STANDARDIZE_DOCUMENTATION),
            PCA_EXPLAINED_VARIANCE => Some(&PCA_EXPLAINED_VARIANCE_DOCUMENTATION),
            _ => None,
        }
    }
}

pub const BROADCAST_MODEL: &str = "verger_broadcast_model";

/// Internal: a fitted model as a dictionary-encoded blob, so that the join that hands it
/// to every row copies a 4-byte key per row rather than the model.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BroadcastModel {
    signature: Signature,
}

impl Default for BroadcastModel {
    fn default() -> Self {
        Self { signature: Signature::any(1, Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for BroadcastModel {
    fn name(&self) -> &str {
        BROADCAST_MODEL
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Binary)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [model] = args.args.as_slice() else {
            return exec_err!("{BROADCAST_MODEL} takes one model");
        };
        let models = model.to_array(args.number_rows)?;
        let Some(structs) = models.as_struct_opt() else {
            return exec_err!("{BROADCAST_MODEL}: expected a model struct, got {}", models.data_type());
        };
        let mut blobs: Vec<Option<Vec<u8>>> = Vec::with_capacity(structs.len());
        for row in 0..structs.len() {
            blobs.push(if structs.is_null(row) { None } else { Some(model_blob(&structs.slice(row, 1))?) });
        }
        let values: ArrayRef = Arc::new(BinaryArray::from_iter(blobs.iter().map(|b| b.as_deref())));
        let keys = Int32Array::from_iter_values(0..i32::try_from(values.len()).unwrap_or(i32::MAX));
        Ok(ColumnarValue::Array(Arc::new(DictionaryArray::<Int32Type>::try_new(keys, values)?)))
    }
}

/// The verger function named `name` the rule calls (transforms and the broadcast).
pub(crate) fn registered_scalar(name: &str) -> Option<Arc<datafusion::logical_expr::ScalarUDF>> {
    crate::ml_scalar_functions().into_iter().find(|f| f.name() == name)
}

/// The fit aggregate named `name`.
pub(crate) fn registered_aggregate(name: &str) -> Option<Arc<datafusion::logical_expr::AggregateUDF>> {
    crate::ml_aggregate_functions().into_iter().find(|f| f.name() == name)
}

pub const BROADCAST_KEY: &str = "verger_broadcast_key";

/// Internal: the join key of a broadcast model, 0 for every row. It reads the model so that
/// the optimizer keeps the fit — and the materialisation under it — even when no column of
/// the transform is used (e.g. `SELECT count(*) FROM (SELECT pca(f) FROM t)`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BroadcastKey {
    signature: Signature,
}

impl Default for BroadcastKey {
    fn default() -> Self {
        Self { signature: Signature::any(1, Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for BroadcastKey {
    fn name(&self) -> &str {
        BROADCAST_KEY
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int32)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Ok(ColumnarValue::Array(Arc::new(Int32Array::from(vec![0; args.number_rows]))))
    }
}
