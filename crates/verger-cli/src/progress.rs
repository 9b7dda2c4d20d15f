use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::Arc;
use std::time::Duration;
use verger::ScanProgress;

/// A spinner on stderr for a running query: files and bytes read (embedded sessions) and rows
/// received. Drawn only on a terminal, and only once the query has run for a second.
pub struct QueryProgress {
    bar: Option<ProgressBar>,
    ticker: Option<tokio::task::JoinHandle<()>>,
}

const DELAY: Duration = Duration::from_secs(1);

impl QueryProgress {
    pub fn start(scan: Option<Arc<ScanProgress>>, quiet: bool) -> Self {
        if quiet {
            return Self { bar: None, ticker: None };
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        let style = ProgressStyle::with_template("{spinner} {elapsed} {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner());
        bar.set_style(style);
        let ticking = bar.clone();
        let start_files = scan.as_ref().map_or(0, |s| s.files());
        let start_bytes = scan.as_ref().map_or(0, |s| s.bytes());
        let ticker = tokio::spawn(async move {
            tokio::time::sleep(DELAY).await;
            ticking.set_draw_target(ProgressDrawTarget::stderr());
            loop {
                let rows = ticking.position();
                let message = match &scan {
                    Some(scan) => format!(
                        "{} files read ({:.1} MB), {rows} rows",
                        scan.files() - start_files,
                        (scan.bytes() - start_bytes) as f64 / 1e6
                    ),
                    None => format!("{rows} rows"),
                };
                ticking.set_message(message);
                ticking.tick();
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        Self { bar: Some(bar), ticker: Some(ticker) }
    }

    pub fn rows(&self, rows: usize) {
        if let Some(bar) = &self.bar {
            bar.set_position(rows as u64);
        }
    }

    /// Stops and clears the spinner; safe to call more than once.
    pub fn finish(&self) {
        if let Some(ticker) = &self.ticker {
            ticker.abort();
        }
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Drop for QueryProgress {
    fn drop(&mut self) {
        self.finish();
    }
}
