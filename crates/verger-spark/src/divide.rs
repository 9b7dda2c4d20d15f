use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};
use std::sync::{Arc, LazyLock};

/// Spark's `/` on integers and doubles: always a fractional (DOUBLE) quotient, `7 / 2` = 3.5.
/// A zero divisor fails with `[DIVIDE_BY_ZERO]` with ANSI mode on (Spark 4's default and
/// verger's), and gives NULL with it off; `try_divide` always gives NULL. Decimal division
/// is [`DecimalDivide`](crate::DecimalDivide)'s; `try_divide` of decimals gives a DOUBLE
/// where Spark keeps a decimal.
///
/// [`Divide::integral`] is Spark's `a DIV b`: the BIGINT quotient of two integers, truncated
/// toward zero, with the same zero rule.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Divide {
    signature: Signature,
    tolerant: bool,
    integral: bool,
}

impl Divide {
    /// `spark_divide(a, b)`, what Spark's `a / b` is.
    pub fn new() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable), tolerant: false, integral: false }
    }

    /// `spark_div(a, b)`, what Spark's `a DIV b` is on integers.
    pub fn integral() -> Self {
        Self { integral: true, ..Self::new() }
    }

    /// `try_divide(a, b)`: NULL for a zero divisor whatever the ANSI mode.
    pub fn try_variant() -> Self {
        Self { tolerant: true, ..Self::new() }
    }
}

impl Default for Divide {
    fn default() -> Self {
        Self::new()
    }
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        datafusion::logical_expr::DocSection { include: true, label: "Spark Functions", description: None },
        "Spark's `/`: the DOUBLE quotient of two numbers; a zero divisor is DIVIDE_BY_ZERO (ANSI) or NULL.",
        "spark_divide(dividend, divisor)",
    )
    .with_sql_example("SELECT spark_divide(7, 2), try_divide(1, 0); -- 3.5, NULL")
    .with_argument("dividend", "A number")
    .with_argument("divisor", "A number")
    .build()
});

impl ScalarUDFImpl for Divide {
    fn name(&self) -> &str {
        match (self.tolerant, self.integral) {
            (_, true) => "spark_div",
            (true, false) => "try_divide",
            (false, false) => "spark_divide",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() != 2 {
            return plan_err!("{} takes two arguments (dividend, divisor), got {}", self.name(), arg_types.len());
        }
        if self.integral {
            if let Some(other) = arg_types.iter().find(|t| !(t.is_integer() || t.is_null())) {
                return plan_err!("DIV takes integers, got {other}; cast the operands, or use `/` and floor");
            }
            return Ok(vec![DataType::Int64, DataType::Int64]);
        }
        for data_type in arg_types {
            let numeric = data_type.is_numeric() || data_type.is_null();
            let text = matches!(data_type, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View);
            if !(numeric || text) {
                return plan_err!("{}: cannot divide {data_type}", self.name());
            }
        }
        Ok(vec![DataType::Float64, DataType::Float64])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(if self.integral { DataType::Int64 } else { DataType::Float64 })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let ansi = args.config_options.execution.enable_ansi_mode && !self.tolerant;
        let all_scalar = args.args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        if self.integral {
            let result = integral_quotients(&arrays[0], &arrays[1], ansi)?;
            return if all_scalar {
                Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&result, 0)?))
            } else {
                Ok(ColumnarValue::Array(result))
            };
        }
        let dividends = cast(&arrays[0], &DataType::Float64)?;
        let divisors = cast(&arrays[1], &DataType::Float64)?;
        let (dividends, divisors) = (dividends.as_primitive::<Float64Type>(), divisors.as_primitive::<Float64Type>());
        let mut quotients = Vec::with_capacity(dividends.len());
        for row in 0..dividends.len() {
            if dividends.is_null(row) || divisors.is_null(row) {
                quotients.push(None);
                continue;
            }
            let divisor = divisors.value(row);
            if divisor == 0.0 {
                if ansi {
                    return division_by_zero();
                }
                quotients.push(None);
                continue;
            }
            quotients.push(Some(dividends.value(row) / divisor));
        }
        let result: ArrayRef = Arc::new(Float64Array::from(quotients));
        if all_scalar { Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&result, 0)?)) } else { Ok(ColumnarValue::Array(result)) }
    }
}

pub(crate) fn division_by_zero<T>() -> Result<T> {
    exec_err!(
        "[DIVIDE_BY_ZERO] Division by zero. Use `try_divide` to tolerate divisor being 0 and return NULL instead. If necessary set \"spark.sql.ansi.enabled\" to \"false\" to bypass this error."
    )
}

/// `a DIV b` row by row: truncated toward zero; a zero divisor is an error (ANSI) or NULL.
fn integral_quotients(dividends: &ArrayRef, divisors: &ArrayRef, ansi: bool) -> Result<ArrayRef> {
    let dividends = cast(dividends, &DataType::Int64)?;
    let divisors = cast(divisors, &DataType::Int64)?;
    let (dividends, divisors) = (dividends.as_primitive::<Int64Type>(), divisors.as_primitive::<Int64Type>());
    let mut quotients = Vec::with_capacity(dividends.len());
    for row in 0..dividends.len() {
        if dividends.is_null(row) || divisors.is_null(row) {
            quotients.push(None);
            continue;
        }
        let (dividend, divisor) = (dividends.value(row), divisors.value(row));
        match dividend.checked_div(divisor) {
            Some(quotient) => quotients.push(Some(quotient)),
            None if divisor == 0 && ansi => return division_by_zero(),
            None if divisor == 0 => quotients.push(None),
            None => return exec_err!("[ARITHMETIC_OVERFLOW] {dividend} div {divisor} overflows BIGINT."),
        }
    }
    Ok(Arc::new(Int64Array::from(quotients)))
}
