use chrono::{NaiveDateTime, Timelike};
use datafusion::arrow::array::timezone::Tz;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, TimeUnit, TimestampMicrosecondType};
use datafusion::arrow::temporal_conversions::{as_datetime, as_datetime_with_timezone};
use datafusion::common::{DataFusionError, Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};
use std::fmt::Write;
use std::str::FromStr;
use std::sync::{Arc, LazyLock};

/// Spark's `date_format(timestamp | date | string, pattern)`: the value as text in a Java
/// `DateTimeFormatter` pattern (`yyyy/MM/dd HH:mm:ss.SSS`, `EEE, d MMM yyyy`, quoted
/// `'literal'` text), a timestamp in its own time zone (the session's for Spark's TIMESTAMP).
/// Time-zone letters (`z`, `Z`, `X`, `O`, `V`), week-based fields and the rarer letters are
/// refused with an error that names them.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DateFormat {
    signature: Signature,
}

impl DateFormat {
    pub fn new() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

impl Default for DateFormat {
    fn default() -> Self {
        Self::new()
    }
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        datafusion::logical_expr::DocSection { include: true, label: "Spark Functions", description: None },
        "A timestamp or date as text in a Java DateTimeFormatter pattern (Spark's date_format).",
        "date_format(expr, pattern)",
    )
    .with_sql_example("SELECT date_format(DATE '2024-02-29', 'yyyy/MM/dd'); -- 2024/02/29")
    .with_argument("expr", "A timestamp, a date, or a string that casts to a timestamp")
    .with_argument("pattern", "A constant Java DateTimeFormatter pattern, e.g. 'yyyy-MM-dd HH:mm'")
    .build()
});

impl ScalarUDFImpl for DateFormat {
    fn name(&self) -> &str {
        "date_format"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [value, pattern] = arg_types else {
            return plan_err!("date_format takes 2 arguments (expr, pattern), got {}", arg_types.len());
        };
        let value = match value {
            DataType::Timestamp(_, tz) => DataType::Timestamp(TimeUnit::Microsecond, tz.clone()),
            DataType::Date32 | DataType::Date64 | DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => {
                DataType::Timestamp(TimeUnit::Microsecond, None)
            }
            other => return plan_err!("date_format: argument 1 must be a timestamp, a date or a string, got {other}"),
        };
        if !matches!(pattern, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null) {
            return plan_err!("date_format: the pattern must be a string, got {pattern}");
        }
        Ok(vec![value, DataType::Utf8])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let pattern = match args.args.get(1) {
            Some(ColumnarValue::Scalar(ScalarValue::Utf8(Some(pattern)))) => pattern.clone(),
            Some(ColumnarValue::Scalar(ScalarValue::Utf8(None))) => return Ok(ColumnarValue::Scalar(ScalarValue::Utf8(None))),
            _ => return exec_err!("date_format: the pattern must be a constant string"),
        };
        let pieces = parse_pattern(&pattern)?;
        let mut text = String::new();
        format_local_times(&args.args[0], args.number_rows, pattern.len(), |local, out| {
            text.clear();
            render(&pieces, local, &mut text)?;
            out.append_value(&text);
            Ok(())
        })
    }
}

/// Each timestamp of `value` (Timestamp(µs, tz) or Timestamp(µs)) as its wall-clock time in
/// its own time zone, given to `format`, which appends its text to the output; NULL stays NULL.
pub(crate) fn format_local_times(
    value: &ColumnarValue,
    rows: usize,
    width: usize,
    mut format: impl FnMut(&NaiveDateTime, &mut StringBuilder) -> Result<()>,
) -> Result<ColumnarValue> {
    let all_scalar = matches!(value, ColumnarValue::Scalar(_));
    let values = value.to_array(rows)?;
    let tz = match values.data_type() {
        DataType::Timestamp(_, Some(tz)) => Some(Tz::from_str(tz).map_err(|e| DataFusionError::Execution(format!("time zone {tz}: {e}")))?),
        _ => None,
    };
    let values = cast(&values, &DataType::Timestamp(TimeUnit::Microsecond, None))?;
    let micros = values.as_primitive::<TimestampMicrosecondType>();
    let mut out = StringBuilder::with_capacity(micros.len(), micros.len() * width);
    for i in 0..micros.len() {
        if micros.is_null(i) {
            out.append_null();
            continue;
        }
        let local = match &tz {
            Some(tz) => as_datetime_with_timezone::<TimestampMicrosecondType>(micros.value(i), *tz).map(|t| t.naive_local()),
            None => as_datetime::<TimestampMicrosecondType>(micros.value(i)),
        };
        let Some(local) = local else { return exec_err!("timestamp {} is out of range", micros.value(i)) };
        format(&local, &mut out)?;
    }
    let formatted: ArrayRef = Arc::new(out.finish());
    Ok(if all_scalar { ColumnarValue::Scalar(ScalarValue::try_from_array(&formatted, 0)?) } else { ColumnarValue::Array(formatted) })
}

/// A parsed pattern: chrono strftime text, or a fraction of a second of `n` digits (chrono
/// prints only 3, 6 or 9).
#[derive(Debug, PartialEq)]
enum Piece {
    Chrono(String),
    Fraction(usize),
}

fn parse_pattern(pattern: &str) -> Result<Vec<Piece>> {
    let mut pieces = Vec::new();
    let mut chrono_text = String::new();
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let run = chars[i..].iter().take_while(|&&x| x == c).count();
        if c == '\'' {
            // '' is a quote; 'text' is literal text.
            if run >= 2 && run % 2 == 0 {
                chrono_text.push_str(&"'".repeat(run / 2));
                i += run;
                continue;
            }
            let end = chars[i + 1..].iter().position(|&x| x == '\'');
            let Some(end) = end else { return exec_err!("date_format: unterminated quote in pattern '{pattern}'") };
            for &literal in &chars[i + 1..i + 1 + end] {
                push_literal(&mut chrono_text, literal);
            }
            i += end + 2;
            continue;
        }
        if !c.is_ascii_alphabetic() {
            push_literal(&mut chrono_text, c);
            i += 1;
            continue;
        }
        let spec = match (c, run) {
            ('y' | 'u', 2) => "%y",
            ('y' | 'u', _) => "%Y",
            ('M' | 'L', 1) => "%-m",
            ('M' | 'L', 2) => "%m",
            ('M' | 'L', 3) => "%b",
            ('M' | 'L', 4) => "%B",
            ('d', 1) => "%-d",
            ('d', 2) => "%d",
            ('D', 1) => "%-j",
            ('D', 3) => "%j",
            ('H', 1) => "%-H",
            ('H', 2) => "%H",
            ('h', 1) => "%-I",
            ('h', 2) => "%I",
            ('m', 1) => "%-M",
            ('m', 2) => "%M",
            ('s', 1) => "%-S",
            ('s', 2) => "%S",
            ('a', 1) => "%p",
            ('E', 1..=3) => "%a",
            ('E', 4) => "%A",
            ('S', 1..=9) => {
                if !chrono_text.is_empty() {
                    pieces.push(Piece::Chrono(std::mem::take(&mut chrono_text)));
                }
                pieces.push(Piece::Fraction(run));
                i += run;
                continue;
            }
            _ => {
                let letters: String = std::iter::repeat_n(c, run).collect();
                return exec_err!("date_format: the pattern letters '{letters}' in '{pattern}' are not supported");
            }
        };
        chrono_text.push_str(spec);
        i += run;
    }
    if !chrono_text.is_empty() {
        pieces.push(Piece::Chrono(chrono_text));
    }
    Ok(pieces)
}

fn push_literal(text: &mut String, c: char) {
    if c == '%' {
        text.push_str("%%");
    } else {
        text.push(c);
    }
}

fn render(pieces: &[Piece], local: &NaiveDateTime, text: &mut String) -> Result<()> {
    for piece in pieces {
        let written = match piece {
            Piece::Chrono(spec) => write!(text, "{}", local.format(spec)),
            Piece::Fraction(digits) => {
                let nanos = format!("{:09}", local.nanosecond() % 1_000_000_000);
                write!(text, "{}", &nanos[..*digits])
            }
        };
        if written.is_err() {
            return exec_err!("date_format: cannot format {local}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format(pattern: &str, at: &str) -> String {
        let local = NaiveDateTime::parse_from_str(at, "%Y-%m-%d %H:%M:%S%.f").unwrap_or_default();
        let mut text = String::new();
        match parse_pattern(pattern).and_then(|p| render(&p, &local, &mut text)) {
            Ok(()) => text,
            Err(e) => format!("error: {e}"),
        }
    }

    #[test]
    fn java_patterns_format_as_spark() {
        assert_eq!(format("yyyy/MM/dd", "2024-02-09 07:05:03.5"), "2024/02/09");
        assert_eq!(format("d MMM yy, EEE H:m:s", "2024-02-09 07:05:03.5"), "9 Feb 24, Fri 7:5:3");
        assert_eq!(format("yyyy-MM-dd'T'HH:mm:ss.SSS '100%' ''", "2024-02-09 17:05:03.5"), "2024-02-09T17:05:03.500 100% '");
        assert_eq!(format("hh a, DDD, S", "2024-02-09 17:05:03.5"), "05 PM, 040, 5");
        assert!(format("yyyy z", "2024-02-09 17:05:03").starts_with("error:"));
        assert!(format("'open", "2024-02-09 17:05:03").starts_with("error:"));
    }
}
