//! Fuzzing of the path every row's `content` takes to the model's input tensor —
//! `decode_rgb`, then `TensorWriter::write`, as verger-features runs them — under a counting,
//! capped allocator: JPEG and PNG of any colour type, size and EXIF orientation, mutated seed
//! files, header bombs and metadata bombs (the parts are in tests/fuzz/).
//!
//! `cargo test` runs a fixed budget: the seeds, then [`FUZZ_ITERATIONS`] generated cases
//! (at most [`FUZZ_SECONDS`]). A longer run, with a summary at the end:
//!
//! ```text
//! VERGER_FUZZ_SECONDS=600 cargo test -p verger-tensors --test fuzz_decode -- --nocapture
//! ```
//!
//! A failure prints the case and the `BOLERO_RANDOM_SEED=…` that replays it.

mod fuzz;

use fuzz::alloc::{CappedAllocator, measure};
use fuzz::case::{Case, PreprocessChoice};
use fuzz::check::{Outcome, check, kind};
use fuzz::corpus::{Expect, seeds};
use fuzz::exclusive;
use fuzz::images::{jpeg_claiming, png_claiming};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use verger_tensors::{DecodeLimits, ImageError, TensorWriter, decode_rgb, image_info};

#[global_allocator]
static ALLOCATOR: CappedAllocator = CappedAllocator;

/// The fuzzing's pixel limit: small, so that images at the limit are cheap to make and an
/// allocation that grows with anything but the pixels stands out.
const FUZZ_LIMITS: DecodeLimits = DecodeLimits { max_pixels: 1 << 18 };

/// The budget of a plain `cargo test`.
const FUZZ_ITERATIONS: usize = 1_500;
const FUZZ_SECONDS: u64 = 20;

fn matches(outcome: &Outcome, expect: Expect) -> bool {
    match (outcome, expect) {
        (Outcome::Tensor(w, h), Expect::Decodes(ew, eh))
        | (Outcome::Refused(ImageError::IntermediateTooLarge { width: w, height: h, .. }), Expect::Decodes(ew, eh)) => (*w, *h) == (ew, eh),
        (Outcome::Refused(ImageError::Empty), Expect::Empty)
        | (Outcome::Refused(ImageError::UnknownFormat(_)), Expect::UnknownFormat)
        | (Outcome::Refused(ImageError::TooManyPixels { .. }), Expect::TooManyPixels) => true,
        (Outcome::Refused(ImageError::Corrupt { format, .. }), Expect::Corrupt(expected)) => *format == expected,
        _ => false,
    }
}

#[test]
fn every_seed_gives_its_documented_outcome_in_every_preprocessing() -> Result<(), String> {
    let _serial = exclusive();
    let mut writer = TensorWriter::new();
    for seed in seeds() {
        for choice in PreprocessChoice::ALL {
            let pre = choice.preprocess();
            let mut out = vec![0.0; pre.tensor_len()];
            let verdict =
                check(&seed.bytes, FUZZ_LIMITS, &pre, &mut writer, &mut out).map_err(|e| format!("{}, {choice:?}: {e}", seed.name))?;
            if !matches(&verdict.outcome, seed.expect) {
                return Err(format!("{}, {choice:?}: expected {:?}, got {:?}", seed.name, seed.expect, verdict.outcome));
            }
        }
    }
    Ok(())
}

/// 50000² and 60000² PNG headers, 60000² and 65535² JPEG frame headers: refused under the
/// default limit with their claimed size, before any pixel buffer (under 1 MiB allocated);
/// `image_info` reads the claimed size from the header alone.
#[test]
fn header_bombs_are_refused_before_any_pixel_buffer() -> Result<(), String> {
    let _serial = exclusive();
    let bombs = [
        ("png", 50_000, 50_000, png_claiming(50_000, 50_000)),
        ("png", 60_000, 60_000, png_claiming(60_000, 60_000)),
        ("jpeg", 60_000, 60_000, jpeg_claiming(60_000, 60_000)?),
        ("jpeg", 65_535, 65_535, jpeg_claiming(u16::MAX, u16::MAX)?),
    ];
    for (format, width, height, bytes) in bombs {
        let (decoded, allocated) = measure(|| decode_rgb(&bytes, DecodeLimits::default()));
        let expected = ImageError::TooManyPixels { width, height, pixels: width * height, limit: DecodeLimits::default().max_pixels };
        if decoded.as_ref().err() != Some(&expected) || allocated >= 1 << 20 {
            return Err(format!("{format} {width}x{height}: {decoded:?} after allocating {allocated} bytes"));
        }
        let (info, allocated) = measure(|| image_info(&bytes));
        let info = info.map_err(|e| format!("{format} {width}x{height}: image_info: {e}"))?;
        if (u64::from(info.width), u64::from(info.height)) != (width, height) || allocated >= 1 << 20 {
            return Err(format!("{format} {width}x{height}: image_info gave {info:?} after allocating {allocated} bytes"));
        }
    }
    Ok(())
}

/// What the fuzzing saw, for its summary.
#[derive(Default)]
struct Stats {
    cases: u64,
    outcomes: BTreeMap<&'static str, u64>,
    most_allocated: usize,
    slowest: Duration,
}

struct State {
    writer: TensorWriter,
    out: Vec<f32>,
    stats: Stats,
}

#[test]
fn generated_and_mutated_images_keep_every_property() {
    let _serial = exclusive();
    let requested = std::env::var("VERGER_FUZZ_SECONDS").ok().and_then(|s| s.parse::<u64>().ok());
    let state = Mutex::new(State { writer: TensorWriter::new(), out: Vec::new(), stats: Stats::default() });
    let started = Instant::now();
    let target = bolero::check!().with_type::<Case>();
    let target = match requested {
        Some(seconds) => target.with_test_time(Duration::from_secs(seconds)),
        None => target.with_iterations(FUZZ_ITERATIONS).with_test_time(Duration::from_secs(FUZZ_SECONDS)),
    };
    target.for_each(|case: &Case| {
        let mut state = state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let State { writer, out, stats } = &mut *state;
        let bytes = case.bytes(FUZZ_LIMITS.max_pixels).unwrap_or_else(|e| panic!("cannot build the input: {e}"));
        let pre = case.preprocess.preprocess();
        out.resize(pre.tensor_len(), 0.0);
        let case_started = Instant::now();
        let verdict = check(&bytes, FUZZ_LIMITS, &pre, writer, out).unwrap_or_else(|e| panic!("{} bytes: {e}", bytes.len()));
        stats.slowest = stats.slowest.max(case_started.elapsed());
        stats.cases += 1;
        stats.most_allocated = stats.most_allocated.max(verdict.allocated);
        let outcome = match &verdict.outcome {
            Outcome::Tensor(..) => "tensor",
            Outcome::Refused(error) => kind(error),
        };
        *stats.outcomes.entry(outcome).or_default() += 1;
    });
    let state = state.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner());
    let stats = state.stats;
    println!(
        "fuzz_decode: {} cases in {:.1} s, no panic, no property broken; outcomes {:?}; most allocated by one input {:.1} MiB; slowest input {:.0} ms",
        stats.cases,
        started.elapsed().as_secs_f64(),
        stats.outcomes,
        stats.most_allocated as f64 / f64::from(1 << 20),
        stats.slowest.as_secs_f64() * 1e3,
    );
    assert!(stats.cases > 0, "the fuzzing ran no case");
}
