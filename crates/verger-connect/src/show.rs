//! `df.show()`: the text table Spark prints, cell by cell as Spark writes values.

use crate::error::ConnectResult;
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Float32Type, Float64Type};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use std::fmt::Write;

/// A double as Java's `Double.toString` writes it (Spark's show): `1.0`, `1.0E7`, `1.0E-4`.
pub fn java_double(value: f64) -> String {
    if value.is_nan() {
        return "NaN".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    if value == 0.0 {
        return if value.is_sign_negative() { "-0.0" } else { "0.0" }.to_owned();
    }
    let magnitude = value.abs();
    if (1e-3..1e7).contains(&magnitude) {
        let text = format!("{value}");
        if text.contains('.') { text } else { format!("{text}.0") }
    } else {
        // Rust's shortest round-trip digits, in Java's layout.
        let text = format!("{value:e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let mantissa = if mantissa.contains('.') { mantissa.to_owned() } else { format!("{mantissa}.0") };
        format!("{mantissa}E{exponent}")
    }
}

/// One value as Spark shows it.
pub fn cell(array: &dyn Array, row: usize) -> ConnectResult<String> {
    if array.is_null(row) {
        return Ok("NULL".to_owned());
    }
    Ok(match array.data_type() {
        DataType::Float64 => java_double(array.as_primitive::<Float64Type>().value(row)),
        DataType::Float32 => {
            // Java's Float.toString: the float's own shortest digits.
            let v = array.as_primitive::<Float32Type>().value(row);
            let text = java_double(f64::from(v));
            let short = format!("{v}");
            if text.contains('E') {
                text
            } else if short.contains('.') {
                short
            } else {
                format!("{short}.0")
            }
        }
        DataType::Binary => hex(array.as_binary::<i32>().value(row)),
        DataType::LargeBinary => hex(array.as_binary::<i64>().value(row)),
        DataType::BinaryView => hex(array.as_binary_view().value(row)),
        DataType::List(_) => list(&array.as_list::<i32>().value(row))?,
        DataType::LargeList(_) => list(&array.as_list::<i64>().value(row))?,
        DataType::FixedSizeList(_, _) => list(&array.as_fixed_size_list().value(row))?,
        DataType::Struct(_) if verger::is_spark_vector(array.data_type()) => vector(array.as_struct(), row)?,
        DataType::Struct(_) => {
            let s = array.as_struct();
            let values = s.columns().iter().map(|c| cell(c.as_ref(), row)).collect::<ConnectResult<Vec<_>>>()?;
            format!("{{{}}}", values.join(", "))
        }
        _ => {
            let options = FormatOptions::default()
                .with_null("NULL")
                .with_timestamp_tz_format(Some("%Y-%m-%d %H:%M:%S%.f"))
                .with_timestamp_format(Some("%Y-%m-%d %H:%M:%S%.f"));
            let formatter = ArrayFormatter::try_new(array, &options)?;
            let text = formatter.value(row).to_string();
            match array.data_type() {
                // Spark writes a fraction of a second without its trailing zeros (`.5`).
                DataType::Timestamp(..) if text.contains('.') => text.trim_end_matches('0').trim_end_matches('.').to_owned(),
                _ => text,
            }
        }
    })
}

fn list(values: &dyn Array) -> ConnectResult<String> {
    let cells = (0..values.len()).map(|i| cell(values, i)).collect::<ConnectResult<Vec<_>>>()?;
    Ok(format!("[{}]", cells.join(", ")))
}

/// A Spark ML vector as its `toString`: `[1.0,2.0]` dense, `(size,[indices],[values])` sparse.
fn vector(vectors: &datafusion::arrow::array::StructArray, row: usize) -> ConnectResult<String> {
    let items = |column: usize| -> ConnectResult<String> {
        let list = vectors.column(column).as_list::<i32>();
        if list.is_null(row) {
            return Ok("[]".into());
        }
        let values = list.value(row);
        let cells = (0..values.len()).map(|i| cell(values.as_ref(), i)).collect::<ConnectResult<Vec<_>>>()?;
        Ok(format!("[{}]", cells.join(",")))
    };
    let dense = vectors.column(0).as_primitive::<datafusion::arrow::datatypes::Int8Type>().value(row) == 1;
    if dense {
        return items(3);
    }
    Ok(format!("({},{},{})", cell(vectors.column(1).as_ref(), row)?, items(2)?, items(3)?))
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3 + 2);
    out.push('[');
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let _ = write!(out, "{b:02X}");
    }
    out.push(']');
    out
}

fn width(text: &str) -> usize {
    text.chars().count()
}

fn truncated(text: String, truncate: usize) -> String {
    if truncate == 0 || width(&text) <= truncate {
        return text;
    }
    if truncate < 4 {
        return text.chars().take(truncate).collect();
    }
    let mut cut: String = text.chars().take(truncate - 3).collect();
    cut.push_str("...");
    cut
}

/// Spark's `showString`: `rows` holds up to `num_rows + 1` rows (the extra one says whether
/// there are more).
pub fn show_string(names: &[String], batches: &[RecordBatch], num_rows: usize, truncate: usize, vertical: bool) -> ConnectResult<String> {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut more = false;
    'outer: for batch in batches {
        for row in 0..batch.num_rows() {
            if rows.len() == num_rows {
                more = true;
                break 'outer;
            }
            let cells =
                batch.columns().iter().map(|c| cell(c.as_ref(), row).map(|t| truncated(t, truncate))).collect::<ConnectResult<Vec<_>>>()?;
            rows.push(cells);
        }
    }
    let names: Vec<String> = names.iter().map(|n| truncated(n.clone(), truncate)).collect();
    let mut out = String::new();
    if vertical {
        // Spark's layout: names and values padded to their widest (at least 3), each line
        // " name | value " and a record header as wide as a line.
        let name_width = names.iter().map(|n| width(n)).max().unwrap_or(0).max(3);
        let value_width = rows.iter().flatten().map(|c| width(c)).max().unwrap_or(0).max(3);
        if rows.is_empty() {
            // Spark 4 ends its footers without a newline; show() prints one after.
            out.push_str("(0 rows)");
        }
        for (i, row) in rows.iter().enumerate() {
            let head = format!("-RECORD {i}");
            let total = name_width + value_width + 5;
            let _ = writeln!(out, "{head}{}", "-".repeat(total.saturating_sub(width(&head))));
            for (name, value) in names.iter().zip(row) {
                let _ =
                    writeln!(out, " {name}{} | {value}{} ", " ".repeat(name_width - width(name)), " ".repeat(value_width - width(value)));
            }
        }
    } else {
        let mut widths: Vec<usize> = names.iter().map(|n| width(n).max(3)).collect();
        for row in &rows {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(width(c));
            }
        }
        let separator: String = widths.iter().map(|w| format!("+{}", "-".repeat(*w))).collect::<String>() + "+\n";
        let line = |cells: &[String]| -> String {
            let mut text = String::new();
            for (c, w) in cells.iter().zip(&widths) {
                let pad = " ".repeat(w - width(c));
                if truncate > 0 { text.push_str(&format!("|{pad}{c}")) } else { text.push_str(&format!("|{c}{pad}")) }
            }
            text + "|\n"
        };
        out.push_str(&separator);
        out.push_str(&line(&names));
        out.push_str(&separator);
        for row in &rows {
            out.push_str(&line(row));
        }
        out.push_str(&separator);
    }
    if more {
        let _ = write!(out, "only showing top {num_rows} row{}", if num_rows == 1 { "" } else { "s" });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Float64Array, Int64Array, StringArray};
    use datafusion::arrow::datatypes::{Field, Schema};
    use std::sync::Arc;

    #[test]
    fn doubles_print_as_java_prints_them() {
        assert_eq!(java_double(1.0), "1.0");
        assert_eq!(java_double(0.5), "0.5");
        assert_eq!(java_double(1e7), "1.0E7");
        assert_eq!(java_double(1.5e-4), "1.5E-4");
        assert_eq!(java_double(123456.789), "123456.789");
    }

    #[test]
    fn the_table_has_spark_layout() -> ConnectResult<()> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("label", DataType::Utf8, true),
            Field::new("x", DataType::Float64, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![1, 2, 3])),
                Arc::new(StringArray::from(vec![Some("apple_braeburn_long_name_here"), None, Some("kiwi")])),
                Arc::new(Float64Array::from(vec![Some(1.0), Some(2.5), None])),
            ],
        )?;
        let names = vec!["id".to_owned(), "label".to_owned(), "x".to_owned()];
        let text = show_string(&names, &[batch], 2, 20, false)?;
        let expected = "+---+--------------------+---+\n| id|               label|  x|\n+---+--------------------+---+\n|  1|apple_braeburn_lo...|1.0|\n|  2|                NULL|2.5|\n+---+--------------------+---+\nonly showing top 2 rows";
        assert_eq!(text, expected);
        Ok(())
    }
}
