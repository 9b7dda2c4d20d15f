//! What the benches share: photo sets, measured child processes, medians, the machine line
//! and the table of targets.
// Each bench uses part of it.
#![allow(dead_code)]

use std::io::{Read, Seek};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::support::cluster::resident_high_water;

pub type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

/// N photos as `dir/<label>/<i>_100.jpg`, generated once per size and kept for later runs.
pub fn image_set(work: &Path, labels: usize, per_label: usize) -> BenchResult<(PathBuf, usize)> {
    let total = labels * per_label;
    let dir = work.join(format!("images-{labels}x{per_label}"));
    let stamp = work.join(format!("images-{labels}x{per_label}.complete"));
    if !stamp.exists() {
        let _ = std::fs::remove_dir_all(&dir);
        let started = Instant::now();
        verger_imagegen::generate(&dir, labels, per_label, 42)?;
        std::fs::write(&stamp, total.to_string())?;
        println!("  generated {total} photos in {:.1} s under {}", started.elapsed().as_secs_f64(), dir.display());
    }
    Ok((dir, total))
}

/// A finished child process: wall time, peak resident memory, what it printed.
pub struct Finished {
    pub seconds: f64,
    pub peak_rss: u64,
    pub stdout: String,
}

/// Runs `command` to completion. Its peak RSS is the child's own high-water mark (VmHWM),
/// polled every 5 ms while it runs: wait4's `ru_maxrss` would not do, as a spawned child
/// inherits its parent's peak at exec, so it reported this bench's own memory (the decoded
/// photos of the ORT limit, ~600 MiB) as a floor.
pub fn run_measured(command: &mut Command) -> BenchResult<Finished> {
    let mut stdout = tempfile::tempfile()?;
    let mut stderr = tempfile::tempfile()?;
    command.stdin(Stdio::null()).stdout(stdout.try_clone()?).stderr(stderr.try_clone()?);
    let started = Instant::now();
    let mut child = command.spawn()?;
    let running = Arc::new(AtomicBool::new(true));
    let watcher = {
        let (running, id) = (Arc::clone(&running), child.id());
        std::thread::spawn(move || {
            let mut peak = 0;
            while running.load(Ordering::Relaxed) {
                peak = resident_high_water(id).unwrap_or(0).max(peak);
                std::thread::sleep(Duration::from_millis(5));
            }
            peak
        })
    };
    let waited = child.wait();
    let seconds = started.elapsed().as_secs_f64();
    running.store(false, Ordering::Relaxed);
    let peak_rss = watcher.join().map_err(|_| "the RSS watcher panicked")?;
    let status = waited?;
    let read = |file: &mut std::fs::File| -> BenchResult<String> {
        file.rewind()?;
        let mut text = String::new();
        file.read_to_string(&mut text)?;
        Ok(text)
    };
    let (out, err) = (read(&mut stdout)?, read(&mut stderr)?);
    if !status.success() {
        let tail: String = err.lines().rev().take(15).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
        return Err(format!("{command:?} failed (status {status}):\n{tail}").into());
    }
    Ok(Finished { seconds, peak_rss, stdout: out })
}

/// The median (the mean of the middle two for an even count); NaN for none.
pub fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        len if len % 2 == 1 => values[len / 2],
        len => (values[len / 2 - 1] + values[len / 2]) / 2.0,
    }
}

pub fn cores() -> usize {
    std::thread::available_parallelism().map(usize::from).unwrap_or(1)
}

pub fn gib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 30) as f64
}

pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 20) as f64
}

pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| t.lines().find_map(|l| l.strip_prefix("model name").map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())))
        .unwrap_or_else(|| "unknown CPU".into());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| l.strip_prefix("MemTotal:").and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok()))
        })
        .map(|kib| format!("{:.0} GiB", gib(kib * 1024)))
        .unwrap_or_else(|| "? GiB".into());
    let os = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| t.lines().find_map(|l| l.strip_prefix("PRETTY_NAME=").map(|v| v.trim_matches('"').to_owned())))
        .unwrap_or_else(|| "Linux".into());
    let profile = if cfg!(debug_assertions) { "dev profile (lean; image and ML crates optimised)" } else { "release profile" };
    format!("{cpu}, {} cores, {memory}, {os}; verger {profile}", cores())
}

/// One line of the final table.
pub struct Target {
    pub what: String,
    pub measured: String,
    pub target: String,
    pub met: bool,
}

pub fn print_targets(targets: &[Target]) {
    let width = targets.iter().map(|t| t.what.chars().count()).max().unwrap_or(10);
    let measured_width = targets.iter().map(|t| t.measured.chars().count()).max().unwrap_or(10);
    println!("\n{:<width$}  {:<measured_width$}  {:<17}  met", "target", "measured", "wanted");
    for t in targets {
        let met = if t.target.starts_with('(') {
            "-"
        } else if t.met {
            "yes"
        } else {
            "NO"
        };
        println!("{:<width$}  {:<measured_width$}  {:<17}  {met}", t.what, t.measured, t.target);
    }
}
