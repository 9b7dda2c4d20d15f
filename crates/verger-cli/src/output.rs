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
                batches.push(batch.clone());
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
