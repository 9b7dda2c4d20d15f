//! The report of a committed PCA output: what the README's main command prints after the
//! job — rows, labels, k, the variance kept, elapsed time and images/s — and a scatter plot
//! of the first two components, one colour per label, written next to the output.
//!
//! It reads only what the job committed: `_SUCCESS`, `_verger_manifest.json` (rows, files,
//! start and commit times) and the Parquet files.

mod error;
mod plot;

pub use error::ReportError;
pub use plot::{Series, scatter_png};

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Float64Type, UInt64Type};
use datafusion::common::{Column, Result, ScalarValue};
use datafusion::functions_nested::expr_fn::{array_element, array_length};
use datafusion::logical_expr::{Expr, cast, lit};
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use error::output_error;
use object_store::{ObjectStoreExt, PutPayload};
use std::collections::BTreeMap;
use std::fmt;
use verger_parquet::{SUCCESS_MARKER, read_manifest};
use verger_storage::{Scheme, StorageLocation, object_store_for};

/// Where the plot goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlotTarget {
    /// `<output>_pca.png`, next to the output directory.
    Beside,
    At(String),
    None,
}

/// Which columns hold what; the defaults are those of `sql/fruits_pipeline.sql`.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    pub label_column: String,
    pub features_column: String,
    /// Read when present: the share of variance the PCA kept.
    pub explained_column: String,
    pub plot: PlotTarget,
}

impl Default for ReportOptions {
    fn default() -> Self {
        Self {
            label_column: "label".to_owned(),
            features_column: "pca_features".to_owned(),
            explained_column: "explained_variance".to_owned(),
            plot: PlotTarget::Beside,
        }
    }
}

/// The summary of a committed output.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub output: String,
    pub rows: u64,
    /// Rows whose features are NULL (images that could not be read, under
    /// `verger.images.on_error = 'null'`).
    pub without_features: u64,
    /// Rows drawn in the plot: those with at least two components.
    pub points: u64,
    /// Rows per label, by label.
    pub labels: Vec<(String, u64)>,
    /// Components per row (the largest, should rows differ).
    pub k: Option<u64>,
    pub explained_variance: Option<f64>,
    /// From the job's start (planning, on the client) to its commit.
    pub elapsed_seconds: Option<f64>,
    pub files: usize,
    pub bytes: u64,
    pub plot: Option<String>,
}

impl Summary {
    pub fn images_per_second(&self) -> Option<f64> {
        self.elapsed_seconds.filter(|s| *s > 0.0).map(|s| self.rows as f64 / s)
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "output      {} ({} Parquet files, {:.1} MB, committed)", self.output, self.files, self.bytes as f64 / 1e6)?;
        match self.without_features {
            0 => writeln!(f, "rows        {}", self.rows)?,
            n => writeln!(
                f,
                "rows        {}, {n} without features (unreadable images, NULL under verger.images.on_error = 'null')",
                self.rows
            )?,
        }
        let labels: Vec<String> = self.labels.iter().map(|(label, n)| format!("{label} {n}")).collect();
        writeln!(f, "labels      {}: {}", self.labels.len(), labels.join(", "))?;
        match (self.k, self.explained_variance) {
            (Some(k), Some(share)) => writeln!(f, "k           {k} components, explaining {:.1} % of the variance", share * 100.0)?,
            (Some(k), None) => writeln!(f, "k           {k} components")?,
            _ => writeln!(f, "k           (no components)")?,
        }
        if let Some(elapsed) = self.elapsed_seconds {
            writeln!(f, "elapsed     {elapsed:.1} s (job start to commit)")?;
        }
        if let Some(rate) = self.images_per_second() {
            writeln!(f, "throughput  {rate:.1} images/s")?;
        }
        if let Some(plot) = &self.plot {
            writeln!(f, "plot        {plot} ({} points)", self.points)?;
        }
        Ok(())
    }
}

fn column(name: &str) -> Expr {
    Expr::Column(Column::from_name(name))
}

/// The directory URL DataFusion lists, with the trailing `/` that makes it a directory.
fn listing_url(location: &StorageLocation) -> String {
    match location.scheme() {
        Scheme::Local => format!("/{}/", location.object_path()),
        Scheme::S3 { scheme, bucket } => format!("{scheme}://{bucket}/{}/", location.object_path()),
    }
}

fn beside(output: &str) -> String {
    format!("{}_pca.png", output.trim_end_matches('/'))
}

/// Summarises the committed output at `output` and draws its plot (see [`ReportOptions`]).
pub async fn report(ctx: &SessionContext, output: &str, options: &ReportOptions) -> Result<Summary> {
    let location = StorageLocation::parse(output).map_err(|e| output_error(output, e.to_string()))?;
    let config = ctx.state().config_options().clone();
    let store = object_store_for(&location, &config)?;
    let base = location.object_path();
    if store.head(&base.clone().join(SUCCESS_MARKER)).await.is_err() {
        return Err(output_error(output, "no _SUCCESS marker: the output was not committed (the job failed, or is still running)"));
    }
    let manifest = read_manifest(store.as_ref(), &base).await?;

    let data = ctx.read_parquet(listing_url(&location), ParquetReadOptions::default()).await?;
    let schema = data.schema().clone();
    for needed in [&options.label_column, &options.features_column] {
        if schema.field_with_unqualified_name(needed).is_err() {
            return Err(output_error(output, format!("no column '{needed}' (columns: {})", schema.field_names().join(", "))));
        }
    }
    let has_explained = schema.field_with_unqualified_name(&options.explained_column).is_ok();

    // One pass over the data: each row's label, first two components and k.
    let features = column(&options.features_column);
    let explained =
        if has_explained { cast(column(&options.explained_column), DataType::Float64) } else { lit(ScalarValue::Float64(None)) };
    let points = data
        .select(vec![
            cast(column(&options.label_column), DataType::Utf8).alias("label"),
            cast(array_element(features.clone(), lit(1i64)), DataType::Float64).alias("pc1"),
            cast(array_element(features.clone(), lit(2i64)), DataType::Float64).alias("pc2"),
            cast(array_length(features), DataType::UInt64).alias("k"),
            explained.alias("explained"),
        ])?
        .collect()
        .await?;
    let mut seen = Seen::default();
    for batch in &points {
        seen.add(batch);
    }
    let Seen { by_label, counts, rows, without_features, k, explained } = seen;
    let points = by_label.values().map(|s| s.points.len() as u64).sum();

    let mut summary = Summary {
        output: output.to_owned(),
        rows,
        without_features,
        points,
        labels: counts.into_iter().collect(),
        k,
        explained_variance: explained,
        elapsed_seconds: manifest.as_ref().map(|m| m.elapsed_seconds),
        files: manifest.as_ref().map(|m| m.files.len()).unwrap_or(0),
        bytes: manifest.as_ref().map(|m| m.bytes).unwrap_or(0),
        plot: None,
    };
    let target = match &options.plot {
        PlotTarget::Beside => Some(beside(output)),
        PlotTarget::At(path) => Some(path.clone()),
        PlotTarget::None => None,
    };
    if let Some(target) = target {
        let series: Vec<Series> = by_label.into_values().filter(|s| !s.points.is_empty()).collect();
        let share = explained.map(|e| format!(", {:.1} % of the variance", e * 100.0)).unwrap_or_default();
        // The title counts what is drawn: rows without features (or with one component) are not.
        let drawn = if points == summary.rows { format!("{points} images") } else { format!("{points} of {} images", summary.rows) };
        let title = format!("PCA of the CNN features: {drawn}, k = {}{share}", k.unwrap_or(0));
        let png = scatter_png(&series, &title, &target)?;
        let plot_location = StorageLocation::parse(&target).map_err(|e| error::plot_error(&target, e.to_string()))?;
        let plot_store = object_store_for(&plot_location, &config)?;
        plot_store.put(&plot_location.object_path(), PutPayload::from(png)).await.map_err(|e| error::plot_error(&target, e.to_string()))?;
        summary.plot = Some(target);
    }
    Ok(summary)
}

/// What the pass over the rows gathers.
#[derive(Default)]
struct Seen {
    by_label: BTreeMap<String, Series>,
    counts: BTreeMap<String, u64>,
    rows: u64,
    without_features: u64,
    k: Option<u64>,
    explained: Option<f64>,
}

impl Seen {
    fn add(&mut self, batch: &RecordBatch) {
        let (Some(labels), Some(pc1), Some(pc2), Some(k), Some(explained)) = (
            batch.column(0).as_string_opt::<i32>(),
            batch.column(1).as_primitive_opt::<Float64Type>(),
            batch.column(2).as_primitive_opt::<Float64Type>(),
            batch.column(3).as_primitive_opt::<UInt64Type>(),
            batch.column(4).as_primitive_opt::<Float64Type>(),
        ) else {
            return;
        };
        self.rows += batch.num_rows() as u64;
        self.without_features += k.null_count() as u64;
        self.k = self.k.max(k.iter().flatten().max());
        self.explained = explained.iter().flatten().fold(self.explained, |best, e| Some(best.map_or(e, |b: f64| b.max(e))));
        for row in 0..batch.num_rows() {
            let label = if labels.is_null(row) { "(no label)" } else { labels.value(row) };
            *self.counts.entry(label.to_owned()).or_default() += 1;
            if pc1.is_valid(row) && pc2.is_valid(row) {
                self.by_label
                    .entry(label.to_owned())
                    .or_insert_with(|| Series { label: label.to_owned(), points: Vec::new() })
                    .points
                    .push((pc1.value(row), pc2.value(row)));
            }
        }
    }
}
