use crate::divide::division_by_zero;
use datafusion::arrow::array::{Array, ArrayRef, ArrowNativeTypeOp, AsArray, Decimal128Array};
use datafusion::arrow::datatypes::{DataType, Decimal128Type, i256};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};
use std::sync::{Arc, LazyLock};

/// Spark's `/` on decimals: `spark_decimal_divide(a DECIMAL(p1,s1), b DECIMAL(p2,s2))` is
/// DECIMAL(p1 - s1 + s2 + max(6, s1 + p2 + 1), max(6, s1 + p2 + 1)), shrunk to 38 digits as
/// Spark does (keeping the integral digits and at least 6 of scale), the exact quotient
/// rounded half up. Integers take the decimal type of their range (INT is DECIMAL(10,0)), and
/// an integer literal that of its digits (`5` is DECIMAL(1,0)), as in Spark: so `5 / 0.5` is
/// DECIMAL(8,6) `10.000000`. A zero divisor is `[DIVIDE_BY_ZERO]` (ANSI) or NULL; a quotient
/// past the type is `[NUMERIC_VALUE_OUT_OF_RANGE]` (ANSI) or NULL. The session's
/// [`SparkDivisionRule`](crate::SparkDivisionRule) puts it in place of DataFusion's decimal `/`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DecimalDivide {
    signature: Signature,
}

impl DecimalDivide {
    pub fn new() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

impl Default for DecimalDivide {
    fn default() -> Self {
        Self::new()
    }
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        datafusion::logical_expr::DocSection { include: true, label: "Spark Functions", description: None },
        "Spark's decimal `/`: the quotient of two decimals in Spark's result type, rounded half up.",
        "spark_decimal_divide(a, b)",
    )
    .with_sql_example("SELECT spark_decimal_divide(CAST(1 AS DECIMAL(1,0)), CAST(3 AS DECIMAL(1,0))); -- 0.333333")
    .with_argument("a", "The dividend, a decimal or an integer")
    .with_argument("b", "The divisor, a decimal or an integer")
    .build()
});

/// The decimal type Spark gives an integer type in decimal arithmetic.
pub(crate) fn decimal_of_integer(data_type: &DataType) -> Option<(u8, i8)> {
    Some(match data_type {
        DataType::Int8 | DataType::UInt8 => (3, 0),
        DataType::Int16 | DataType::UInt16 => (5, 0),
        DataType::Int32 | DataType::UInt32 => (10, 0),
        DataType::Int64 | DataType::UInt64 => (20, 0),
        DataType::Decimal128(p, s) if *s >= 0 => (*p, *s),
        _ => return None,
    })
}

/// The digits of an integer literal: Spark's DECIMAL(digits, 0) for it.
pub(crate) fn decimal_of_integer_literal(value: i128) -> (u8, i8) {
    let digits = value.unsigned_abs().checked_ilog10().map_or(1, |d| d + 1);
    (u8::try_from(digits).unwrap_or(38).min(38), 0)
}

/// Spark's result type of DECIMAL(p1,s1) / DECIMAL(p2,s2) (`DecimalPrecision` with
/// `spark.sql.decimalOperations.allowPrecisionLoss`, the default).
pub(crate) fn quotient_type((p1, s1): (u8, i8), (p2, s2): (u8, i8)) -> (u8, i8) {
    let (p1, s1, p2, s2) = (i32::from(p1), i32::from(s1), i32::from(p2), i32::from(s2));
    let scale = 6.max(s1 + p2 + 1);
    let precision = p1 - s1 + s2 + scale;
    let (precision, scale) = if precision > 38 {
        let integral = precision - scale;
        (38, (38 - integral).max(scale.min(6)))
    } else {
        (precision, scale)
    };
    (u8::try_from(precision).unwrap_or(38), i8::try_from(scale).unwrap_or(6))
}

impl ScalarUDFImpl for DecimalDivide {
    fn name(&self) -> &str {
        "spark_decimal_divide"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [a, b] = arg_types else { return plan_err!("spark_decimal_divide takes 2 arguments, got {}", arg_types.len()) };
        let decimal = |t: &DataType| match decimal_of_integer(t) {
            Some((p, s)) => Ok(DataType::Decimal128(p, s)),
            None => plan_err!("spark_decimal_divide: the arguments must be decimals or integers, got {t}"),
        };
        Ok(vec![decimal(a)?, decimal(b)?])
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [DataType::Decimal128(p1, s1), DataType::Decimal128(p2, s2)] => {
                let (p, s) = quotient_type((*p1, *s1), (*p2, *s2));
                Ok(DataType::Decimal128(p, s))
            }
            _ => plan_err!("spark_decimal_divide takes two decimals, got {arg_types:?}"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let ansi = args.config_options.execution.enable_ansi_mode;
        let DataType::Decimal128(precision, scale) = args.return_field.data_type().clone() else {
            return exec_err!("spark_decimal_divide: a decimal result was expected");
        };
        let all_scalar = args.args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let (DataType::Decimal128(_, s1), DataType::Decimal128(_, s2)) = (arrays[0].data_type(), arrays[1].data_type()) else {
            return exec_err!("spark_decimal_divide takes two decimals");
        };
        // The quotient's unscaled value is a * 10^shift / b.
        let shift = u32::try_from(i32::from(scale) + i32::from(*s2) - i32::from(*s1)).unwrap_or(0);
        let dividends = arrays[0].as_primitive::<Decimal128Type>();
        let divisors = arrays[1].as_primitive::<Decimal128Type>();
        let limit = i256::from_i128(10).pow_wrapping(u32::from(precision));
        let mut quotients = Vec::with_capacity(dividends.len());
        for row in 0..dividends.len() {
            if dividends.is_null(row) || divisors.is_null(row) {
                quotients.push(None);
                continue;
            }
            let (dividend, divisor) = (dividends.value(row), divisors.value(row));
            if divisor == 0 {
                if ansi {
                    return division_by_zero();
                }
                quotients.push(None);
                continue;
            }
            match rounded_quotient(dividend, divisor, shift).filter(|q| q.wrapping_abs() < limit).and_then(|q| q.to_i128()) {
                Some(quotient) => quotients.push(Some(quotient)),
                None if ansi => {
                    return exec_err!(
                        "[NUMERIC_VALUE_OUT_OF_RANGE.WITH_SUGGESTION] The quotient of {dividend}e-{s1} / {divisor}e-{s2} cannot be represented as DECIMAL({precision}, {scale}). If necessary set \"spark.sql.ansi.enabled\" to \"false\" to bypass this error, and return NULL instead."
                    );
                }
                None => quotients.push(None),
            }
        }
        let result: ArrayRef = Arc::new(Decimal128Array::from(quotients).with_precision_and_scale(precision, scale)?);
        if all_scalar { Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&result, 0)?)) } else { Ok(ColumnarValue::Array(result)) }
    }
}

/// `dividend * 10^shift / divisor`, rounded half away from zero (Spark's HALF_UP), by long
/// division so that no intermediate outgrows 256 bits; None past 10^76.
fn rounded_quotient(dividend: i128, divisor: i128, shift: u32) -> Option<i256> {
    let negative = (dividend < 0) != (divisor < 0);
    let (a, b) = (i256::from_i128(dividend).wrapping_abs(), i256::from_i128(divisor).wrapping_abs());
    let ten = i256::from_i128(10);
    let bound = ten.pow_wrapping(76);
    let mut quotient = a.checked_div(b)?;
    let mut remainder = a.checked_rem(b)?;
    for _ in 0..shift {
        remainder = remainder.checked_mul(ten)?;
        quotient = quotient.checked_mul(ten)?.checked_add(remainder.checked_div(b)?)?;
        remainder = remainder.checked_rem(b)?;
        if quotient > bound {
            return None;
        }
    }
    if remainder.checked_mul(i256::from_i128(2))? >= b {
        quotient = quotient.checked_add(i256::ONE)?;
    }
    Some(if negative { quotient.wrapping_neg() } else { quotient })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotient_types_are_spark_s() {
        assert_eq!(quotient_type((1, 0), (1, 1)), (8, 6));
        assert_eq!(quotient_type((10, 0), (10, 0)), (21, 11));
        assert_eq!(quotient_type((38, 10), (38, 10)), (38, 6));
        assert_eq!(decimal_of_integer_literal(5), (1, 0));
        assert_eq!(decimal_of_integer_literal(-120), (3, 0));
        assert_eq!(decimal_of_integer_literal(0), (1, 0));
    }

    #[test]
    fn quotients_round_half_up() {
        // 5 / 0.5 at scale 6: 5 * 10^(6 + 1 - 0) / 5.
        assert_eq!(rounded_quotient(5, 5, 7), Some(i256::from_i128(10_000_000)));
        // 1 / 3 = 0.333333; 2 / 3 = 0.666667; -2 / 3 = -0.666667.
        assert_eq!(rounded_quotient(1, 3, 6), Some(i256::from_i128(333_333)));
        assert_eq!(rounded_quotient(2, 3, 6), Some(i256::from_i128(666_667)));
        assert_eq!(rounded_quotient(-2, 3, 6), Some(i256::from_i128(-666_667)));
        assert_eq!(rounded_quotient(1, 8, 2), Some(i256::from_i128(13)));
    }
}
