use crate::progress::QueryProgress;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SendableRecordBatchStream;
use futures::StreamExt;
use std::io::Write;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// An aligned text table.
    Table,
    /// CSV with a header line.
    Csv,
    /// One JSON array of row objects.
    Json,
    /// One JSON object per line.
    Ndjson,
}

/// A binary value as a table shows it: its size, not kilobytes of hex (csv and json keep it whole).
fn binary_cell(length: usize) -> String {
    let digits = length.to_string();
    let mut grouped = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    format!("<{grouped} bytes>")
}

/// `batch` with its binary columns shown by size.
fn abbreviate_binary(batch: &RecordBatch) -> Result<RecordBatch> {
    let lengths = |column: &ArrayRef| -> Option<Vec<Option<usize>>> {
        let values: Vec<Option<usize>> = match column.data_type() {
            DataType::Binary => column.as_binary::<i32>().iter().map(|v| v.map(<[u8]>::len)).collect(),
            DataType::LargeBinary => column.as_binary::<i64>().iter().map(|v| v.map(<[u8]>::len)).collect(),
            DataType::BinaryView => column.as_binary_view().iter().map(|v| v.map(<[u8]>::len)).collect(),
            DataType::FixedSizeBinary(size) => (0..column.len()).map(|i| column.is_valid(i).then_some(*size as usize)).collect(),
            _ => return None,
        };
        Some(values)
    };
    if !batch.columns().iter().any(|c| lengths(c).is_some()) {
        return Ok(batch.clone());
    }
    let mut fields = Vec::with_capacity(batch.num_columns());
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        match lengths(column) {
            Some(sizes) => {
                fields.push(Field::new(field.name(), DataType::Utf8, field.is_nullable()));
                columns.push(Arc::new(sizes.into_iter().map(|s| s.map(binary_cell)).collect::<StringArray>()) as ArrayRef);
            }
            None => {
                fields.push(field.as_ref().clone());
                columns.push(Arc::clone(column));
            }
        }
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?)
}

fn io_error(e: std::io::Error) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

/// Passes every batch of `stream` to `write`, counting rows for the progress display.
async fn drain(
    stream: &mut SendableRecordBatchStream,
    progress: &QueryProgress,
    mut write: impl FnMut(&RecordBatch) -> Result<()>,
) -> Result<usize> {
    let mut rows = 0;
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        rows += batch.num_rows();
        progress.rows(rows);
        write(&batch)?;
    }
    Ok(rows)
}

/// Prints a query's results on stdout as they arrive (a table waits for all rows, to align
/// its columns); returns the number of rows.
pub async fn print_stream(mut stream: SendableRecordBatchStream, format: Format, progress: &QueryProgress) -> Result<usize> {
    let stdout = std::io::stdout();
    match format {
        Format::Table => {
            let mut batches: Vec<RecordBatch> = Vec::new();
            let rows = drain(&mut stream, progress, |batch| {
                batches.push(abbreviate_binary(batch)?);
                Ok(())
            })
            .await?;
            progress.finish();
            if batches.iter().any(|b| b.num_columns() > 0) {
                writeln!(stdout.lock(), "{}", pretty_format_batches(&batches)?).map_err(io_error)?;
            }
            Ok(rows)
        }
        Format::Csv => {
            let mut writer = datafusion::arrow::csv::WriterBuilder::new().with_header(true).build(stdout.lock());
            drain(&mut stream, progress, |batch| Ok(writer.write(batch)?)).await
        }
        Format::Json => {
            let mut writer = datafusion::arrow::json::ArrayWriter::new(stdout.lock());
            let rows = drain(&mut stream, progress, |batch| Ok(writer.write(batch)?)).await?;
            writer.finish()?;
            writeln!(stdout.lock()).map_err(io_error)?;
            Ok(rows)
        }
        Format::Ndjson => {
            let mut writer = datafusion::arrow::json::LineDelimitedWriter::new(stdout.lock());
            let rows = drain(&mut stream, progress, |batch| Ok(writer.write(batch)?)).await?;
            writer.finish()?;
            Ok(rows)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{BinaryArray, Int32Array};

    #[test]
    fn tables_show_binary_cells_by_size() -> Result<()> {
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int32, false), Field::new("content", DataType::Binary, true)]));
        let big = vec![0u8; 3244];
        let content = BinaryArray::from(vec![Some(&big[..]), None, Some(&b"ab"[..])]);
        let batch = RecordBatch::try_new(schema, vec![Arc::new(Int32Array::from(vec![1, 2, 3])), Arc::new(content)])?;
        let shown = pretty_format_batches(&[abbreviate_binary(&batch)?])?.to_string();
        assert!(shown.contains("<3,244 bytes>") && shown.contains("<2 bytes>"), "{shown}");
        assert_eq!(binary_cell(1_234_567), "<1,234,567 bytes>");
        Ok(())
    }
}
