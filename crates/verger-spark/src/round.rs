use datafusion::arrow::array::{Array, ArrayRef, AsArray, PrimitiveArray};
use datafusion::arrow::datatypes::{
    ArrowPrimitiveType, DataType, Decimal128Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
};
use datafusion::arrow::datatypes::{Field, FieldRef};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};
use std::sync::{Arc, LazyLock};

/// Spark's `round(expr [, d])` and `bround(expr [, d])`: `expr` rounded to `d` decimal places
/// (default 0), HALF_UP for `round` (`round(2.5)` = 3.0) and HALF_EVEN for `bround`
/// ("banker's rounding": `bround(2.5)` = 2.0, `bround(3.5)` = 4.0).
///
/// - Doubles and floats round their shortest decimal form, as Spark's `BigDecimal(x)` does,
///   so `bround(0.125, 2)` = 0.12 and `round(2.675, 2)` = 2.68; NaN and ±∞ stay as they are,
///   and a result of zero is 0.0, never -0.0.
/// - Integers keep their type; a negative `d` rounds to tens, hundreds, … (`bround(25, -1)` = 20).
/// - `decimal(p, s)` gives `decimal(p - s + 1 + min(s, d), min(s, d))` for `d >= 0` and
///   `decimal(p - s + 1 - d, 0)` below, as Spark.
/// - `d` must be a constant integer; a NULL argument gives NULL.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Round {
    signature: Signature,
    mode: Mode,
}

/// How a tie rounds.
#[derive(Debug, PartialEq, Eq, Hash, Clone, Copy)]
enum Mode {
    /// Away from zero (`round`).
    HalfUp,
    /// To the even neighbour (`bround`).
    HalfEven,
}

impl Round {
    /// `round`, HALF_UP.
    pub fn half_up() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable), mode: Mode::HalfUp }
    }

    /// `bround`, HALF_EVEN.
    pub fn half_even() -> Self {
        Self { mode: Mode::HalfEven, ..Self::half_up() }
    }
}

static ROUND_DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        datafusion::logical_expr::DocSection { include: true, label: "Spark Functions", description: None },
        "Rounds to d decimal places with HALF_UP rounding (Spark's round).",
        "round(expr [, d])",
    )
    .with_sql_example("SELECT round(2.5), round(-2.5), round(2.675, 2); -- 3.0, -3.0, 2.68")
    .with_argument("expr", "A number")
    .with_argument("d", "Decimal places, a constant integer (default 0); negative rounds left of the point")
    .build()
});

static BROUND_DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        datafusion::logical_expr::DocSection { include: true, label: "Spark Functions", description: None },
        "Rounds to d decimal places with HALF_EVEN rounding (Spark's bround).",
        "bround(expr [, d])",
    )
    .with_sql_example("SELECT bround(2.5), bround(-2.5), bround(0.125, 2); -- 2.0, -2.0, 0.12")
    .with_argument("expr", "A number")
    .with_argument("d", "Decimal places, a constant integer (default 0); negative rounds left of the point")
    .build()
});

const MAX_PRECISION: u8 = 38;

/// The result type for `input` rounded to `scale` places, as Spark's RoundBase.
fn rounded_type(input: &DataType, scale: i32) -> DataType {
    match input {
        DataType::Decimal128(precision, input_scale) => {
            let integral = i32::from(*precision) - i32::from(*input_scale) + 1;
            let (precision, scale) = if scale < 0 {
                (integral - scale, 0)
            } else {
                let scale = scale.min(i32::from(*input_scale));
                (integral + scale, scale)
            };
            let precision = precision.clamp(1, i32::from(MAX_PRECISION)) as u8;
            DataType::Decimal128(precision, scale.clamp(0, i32::from(MAX_PRECISION)) as i8)
        }
        other => other.clone(),
    }
}

fn scale_argument(value: Option<&ScalarValue>) -> Result<Option<i32>> {
    match value {
        None => Ok(Some(0)),
        Some(scalar) if scalar.is_null() => Ok(None),
        Some(scalar) => match scalar.cast_to(&DataType::Int32)? {
            ScalarValue::Int32(Some(d)) => Ok(Some(d)),
            other => exec_err!("round: the number of decimal places must be an integer, got {other}"),
        },
    }
}

impl ScalarUDFImpl for Round {
    fn name(&self) -> &str {
        match self.mode {
            Mode::HalfUp => "round",
            Mode::HalfEven => "bround",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(match self.mode {
            Mode::HalfUp => &ROUND_DOCUMENTATION,
            Mode::HalfEven => &BROUND_DOCUMENTATION,
        })
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let (value, scale) = match arg_types {
            [value] => (value, None),
            [value, scale] => (value, Some(scale)),
            _ => return plan_err!("{} takes 1 or 2 arguments (expr [, d]), got {}", self.name(), arg_types.len()),
        };
        let value = match value {
            DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 | DataType::Float32 | DataType::Float64 => value.clone(),
            DataType::Decimal128(_, _) => value.clone(),
            DataType::UInt8 | DataType::UInt16 => DataType::Int32,
            DataType::UInt32 | DataType::UInt64 => DataType::Int64,
            DataType::Float16 | DataType::Null => DataType::Float64,
            other => return plan_err!("{}: the value must be a number, got {other}", self.name()),
        };
        let mut coerced = vec![value];
        if let Some(scale) = scale {
            if !(scale.is_integer() || scale.is_null()) {
                return plan_err!("{}: the number of decimal places must be an integer, got {scale}", self.name());
            }
            // Kept as it is, so that a literal stays a literal the result type can read.
            coerced.push(scale.clone());
        }
        Ok(coerced)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        datafusion::common::internal_err!("bround's type depends on its decimal places: return_field_from_args is used")
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let input = args.arg_fields[0].data_type();
        let scale = match args.scalar_arguments.get(1) {
            None => Some(0),
            Some(Some(scale)) => scale_argument(Some(scale))?,
            Some(None) if matches!(input, DataType::Decimal128(_, _)) => {
                return plan_err!("{}: the number of decimal places of a decimal must be a constant", self.name());
            }
            Some(None) => Some(0),
        };
        Ok(Arc::new(Field::new(self.name(), rounded_type(input, scale.unwrap_or(0)), true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scale = match args.args.get(1) {
            None => Some(0),
            Some(ColumnarValue::Scalar(scale)) => scale_argument(Some(scale))?,
            Some(ColumnarValue::Array(_)) => return exec_err!("{}: the number of decimal places must be a constant", self.name()),
        };
        let output = args.return_field.data_type().clone();
        let all_scalar = matches!(args.args[0], ColumnarValue::Scalar(_));
        let values = args.args[0].to_array(args.number_rows)?;
        let result: ArrayRef = match scale {
            None => datafusion::arrow::array::new_null_array(&output, values.len()),
            Some(scale) => round_array(&values, scale, &output, self.mode)?,
        };
        if all_scalar { Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&result, 0)?)) } else { Ok(ColumnarValue::Array(result)) }
    }
}

fn map_values<T: ArrowPrimitiveType>(values: &ArrayRef, round: impl Fn(T::Native) -> Result<T::Native>) -> Result<ArrayRef> {
    let values: &PrimitiveArray<T> = values.as_primitive();
    let rounded: PrimitiveArray<T> = values.try_unary(round)?;
    Ok(Arc::new(rounded.with_data_type(values.data_type().clone())))
}

fn round_array(values: &ArrayRef, scale: i32, output: &DataType, mode: Mode) -> Result<ArrayRef> {
    match values.data_type() {
        DataType::Float64 => map_values::<Float64Type>(values, |x| Ok(round_double(x, scale, mode))),
        DataType::Float32 => map_values::<Float32Type>(values, |x| Ok(round_double(f64::from(x), scale, mode) as f32)),
        DataType::Int8 => map_values::<Int8Type>(values, |x| narrow(round_integer(i128::from(x), scale, mode)?)),
        DataType::Int16 => map_values::<Int16Type>(values, |x| narrow(round_integer(i128::from(x), scale, mode)?)),
        DataType::Int32 => map_values::<Int32Type>(values, |x| narrow(round_integer(i128::from(x), scale, mode)?)),
        DataType::Int64 => map_values::<Int64Type>(values, |x| narrow(round_integer(i128::from(x), scale, mode)?)),
        DataType::Decimal128(_, input_scale) => {
            let DataType::Decimal128(precision, output_scale) = *output else {
                return exec_err!("round: a decimal rounds to a decimal, not {output}");
            };
            let input_scale = i32::from(*input_scale);
            let decimals: &PrimitiveArray<Decimal128Type> = values.as_primitive();
            let rounded: PrimitiveArray<Decimal128Type> = decimals.try_unary(|unscaled| {
                // Round at `scale` places, then express the result at the output's scale.
                let dropped = input_scale - scale;
                let rounded = if dropped > 0 { round_digits(unscaled, dropped as u32, mode)? } else { unscaled };
                let kept = if dropped > 0 { input_scale - dropped } else { input_scale };
                rescale(rounded, kept, i32::from(output_scale), mode)
            })?;
            Ok(Arc::new(rounded.with_precision_and_scale(precision, output_scale)?))
        }
        other => exec_err!("round: cannot round {other}"),
    }
}

fn narrow<T: TryFrom<i128>>(value: i128) -> Result<T> {
    T::try_from(value).map_err(|_| {
        datafusion::common::DataFusionError::Execution(format!(
            "[ARITHMETIC_OVERFLOW] the rounded value {value} overflows its type. Use a wider type."
        ))
    })
}

/// `value` divided by 10^`digits`, a tie rounded as `mode` says.
fn round_digits(value: i128, digits: u32, mode: Mode) -> Result<i128> {
    if digits > 38 {
        return Ok(0);
    }
    let Some(unit) = 10i128.checked_pow(digits) else { return Ok(0) };
    let (quotient, remainder) = (value / unit, value % unit);
    let twice = remainder.unsigned_abs() * 2;
    let away = match twice.cmp(&unit.unsigned_abs()) {
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Equal => mode == Mode::HalfUp || quotient % 2 != 0,
        std::cmp::Ordering::Less => false,
    };
    Ok(if away { quotient + value.signum() } else { quotient })
}

/// An integer rounded at `scale` places (a no-op unless `scale < 0`).
fn round_integer(value: i128, scale: i32, mode: Mode) -> Result<i128> {
    if scale >= 0 {
        return Ok(value);
    }
    let digits = scale.unsigned_abs();
    let rounded = round_digits(value, digits, mode)?;
    match 10i128.checked_pow(digits).and_then(|unit| rounded.checked_mul(unit)) {
        Some(value) => Ok(value),
        None if rounded == 0 => Ok(0),
        None => exec_err!("[ARITHMETIC_OVERFLOW] the rounded value overflows. Use a wider type."),
    }
}

/// An unscaled decimal at scale `from` expressed at scale `to` (`to >= from` here).
fn rescale(value: i128, from: i32, to: i32, mode: Mode) -> Result<i128> {
    let shift = to - from;
    if shift <= 0 {
        return round_digits(value, shift.unsigned_abs(), mode);
    }
    match 10i128.checked_pow(shift as u32).and_then(|unit| value.checked_mul(unit)) {
        Some(value) => Ok(value),
        None => exec_err!("[NUMERIC_VALUE_OUT_OF_RANGE] the rounded value does not fit its decimal type"),
    }
}

/// A double rounded at `scale` places, on its shortest decimal form (Spark's
/// `BigDecimal(x).setScale(scale, mode).toDouble`).
fn round_double(x: f64, scale: i32, mode: Mode) -> f64 {
    if !x.is_finite() {
        return x;
    }
    // `{:e}` is the shortest form that reads back as `x`: digits d.ddd and an exponent.
    let text = format!("{:e}", x.abs());
    let Some((mantissa, exponent)) = text.split_once('e') else { return x };
    let Ok(exponent) = exponent.parse::<i32>() else { return x };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let Ok(unscaled) = digits.parse::<i128>() else { return x };
    // x = unscaled × 10^power
    let power = exponent - (digits.len() as i32 - 1);
    if -power <= scale {
        return x;
    }
    let dropped = (-power - scale) as u32;
    let Ok(rounded) = round_digits(unscaled, dropped, mode) else { return x };
    let value = format!("{rounded}e{}", -scale).parse::<f64>().unwrap_or(x);
    if x.is_sign_negative() && value != 0.0 { -value } else { value }
}

#[cfg(test)]
mod tests {
    use super::*;

    use Mode::{HalfEven, HalfUp};

    fn round_double_even(x: f64, scale: i32) -> f64 {
        round_double(x, scale, HalfEven)
    }

    #[test]
    fn doubles_round_half_up_on_their_decimal_form() {
        assert_eq!(round_double(2.5, 0, HalfUp), 3.0);
        assert_eq!(round_double(-2.5, 0, HalfUp), -3.0);
        assert_eq!(round_double(2.675, 2, HalfUp), 2.68);
        assert_eq!(round_double(0.125, 2, HalfUp), 0.13);
        assert_eq!(round_double(-2.5, -2, HalfUp).to_bits(), 0.0f64.to_bits());
        assert_eq!(round_integer(25, -1, HalfUp).ok(), Some(30));
    }

    #[test]
    fn doubles_round_half_to_even_on_their_decimal_form() {
        assert_eq!(round_double_even(2.5, 0), 2.0);
        assert_eq!(round_double_even(3.5, 0), 4.0);
        assert_eq!(round_double_even(-2.5, 0), -2.0);
        assert_eq!(round_double_even(0.125, 2), 0.12);
        assert_eq!(round_double_even(2.675, 2), 2.68);
        assert_eq!(round_double_even(1234.5678, -2), 1200.0);
        assert_eq!(round_double_even(1250.0, -2), 1200.0);
        assert_eq!(round_double_even(1e-30, 2), 0.0);
        assert_eq!(round_double_even(1e300, 2), 1e300);
        assert!(round_double_even(f64::NAN, 2).is_nan());
    }

    #[test]
    fn integers_and_decimals_round_half_to_even() -> Result<()> {
        assert_eq!(round_integer(25, -1, HalfEven)?, 20);
        assert_eq!(round_integer(35, -1, HalfEven)?, 40);
        assert_eq!(round_integer(-25, -1, HalfEven)?, -20);
        assert_eq!(round_integer(7, 2, HalfEven)?, 7);
        assert_eq!(round_digits(12_345, 2, HalfEven)?, 123);
        assert_eq!(round_digits(12_350, 2, HalfEven)?, 124);
        assert_eq!(round_digits(12_250, 2, HalfEven)?, 122);
        assert_eq!(rounded_type(&DataType::Decimal128(10, 4), 2), DataType::Decimal128(9, 2));
        assert_eq!(rounded_type(&DataType::Decimal128(10, 4), -1), DataType::Decimal128(8, 0));
        Ok(())
    }
}
