use crate::progress::QueryProgress;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SendableRecordBatchStream;
use futures::StreamExt;
use std::io::Write;

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

fn io_error(e: std::io::Error) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

/// Prints a query's results on stdout as they arrive (a table waits for all rows, to align
/// its columns); returns the number of rows.
pub async fn print_stream(mut stream: SendableRecordBatchStream, format: Format, progress: &QueryProgress) -> Result<usize> {
    let stdout = std::io::stdout();
    let mut rows = 0;
    match format {
        Format::Table => {
            let mut batches: Vec<RecordBatch> = Vec::new();
            while let Some(batch) = stream.next().await {
                let batch = batch?;
                rows += batch.num_rows();
                progress.rows(rows);
                batches.push(batch);
            }
            progress.finish();
            if batches.iter().any(|b| b.num_columns() > 0) {
                let table = pretty_format_batches(&batches)?;
                writeln!(stdout.lock(), "{table}").map_err(io_error)?;
            }
        }
        Format::Csv => {
            let mut writer = datafusion::arrow::csv::WriterBuilder::new().with_header(true).build(stdout.lock());
            while let Some(batch) = stream.next().await {
                let batch = batch?;
                rows += batch.num_rows();
                progress.rows(rows);
                writer.write(&batch)?;
            }
        }
        Format::Json => {
            let mut writer = datafusion::arrow::json::ArrayWriter::new(stdout.lock());
            while let Some(batch) = stream.next().await {
                let batch = batch?;
                rows += batch.num_rows();
                progress.rows(rows);
                writer.write(&batch)?;
            }
            writer.finish()?;
            writeln!(stdout.lock()).map_err(io_error)?;
        }
        Format::Ndjson => {
            let mut writer = datafusion::arrow::json::LineDelimitedWriter::new(stdout.lock());
            while let Some(batch) = stream.next().await {
                let batch = batch?;
                rows += batch.num_rows();
                progress.rows(rows);
                writer.write(&batch)?;
            }
            writer.finish()?;
        }
    }
    Ok(rows)
}
