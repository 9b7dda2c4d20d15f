//! One RecordBatch of images through a model: decode + preprocess + inference on the
//! inference threads, in mini-batches.

use crate::error::{FeaturesError, Result};
use crate::model::LoadedModel;
use crate::pool::inference_pool;
use rayon::prelude::*;
use std::cell::RefCell;
use verger_tensors::{DecodeLimits, ImageError, Preprocess, TensorWriter, decode_rgb};

/// What to compute for each image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wanted {
    /// The model's input tensor only (no inference).
    Tensor,
    /// The named output of the model.
    Output,
}

/// One row's outcome.
pub(crate) type RowResult = std::result::Result<Option<Vec<f32>>, ImageError>;

thread_local! {
    static WRITER: RefCell<TensorWriter> = RefCell::new(TensorWriter::new());
    /// The mini-batch input of this thread's inferences, reused: a fresh 4.8 MB buffer per
    /// mini-batch cost a page fault per 4 KB of it.
    static INPUT: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Computes, for each image of `images` (None = NULL), the tensor or the model `output`.
/// Per-image errors are returned in place; errors of the model itself fail the whole call.
pub(crate) fn run_images(
    pre: &Preprocess,
    model: Option<&LoadedModel>,
    images: &[Option<&[u8]>],
    wanted: Wanted,
    output: &str,
    limits: DecodeLimits,
    mini_batch: usize,
) -> Result<Vec<RowResult>> {
    let pool = inference_pool()?;
    let job = Job { pre, model, wanted, output, limits };
    let chunks: Vec<Result<Vec<RowResult>>> =
        pool.install(|| images.par_chunks(mini_batch.max(1)).map(|chunk| run_chunk(job, chunk)).collect());
    let mut rows = Vec::with_capacity(images.len());
    for chunk in chunks {
        rows.extend(chunk?);
    }
    Ok(rows)
}

/// What each mini-batch of one call computes.
#[derive(Clone, Copy)]
struct Job<'a> {
    pre: &'a Preprocess,
    model: Option<&'a LoadedModel>,
    wanted: Wanted,
    output: &'a str,
    limits: DecodeLimits,
}

fn run_chunk(job: Job<'_>, images: &[Option<&[u8]>]) -> Result<Vec<RowResult>> {
    if job.wanted == Wanted::Tensor {
        return fill_and_run(job, images, &mut Vec::new());
    }
    INPUT.with(|input| match input.try_borrow_mut() {
        Ok(mut tensor) => fill_and_run(job, images, &mut tensor),
        Err(_) => fill_and_run(job, images, &mut Vec::new()),
    })
}

/// Decodes and preprocesses `images` into `tensor`, then runs the model on it.
fn fill_and_run(job: Job<'_>, images: &[Option<&[u8]>], tensor: &mut Vec<f32>) -> Result<Vec<RowResult>> {
    let Job { pre, model, wanted, output, limits } = job;
    let len = pre.tensor_len();
    // The decoded images go straight into their slot of the batch tensor; each write fills
    // its whole slot, so a reused buffer needs no clearing.
    tensor.resize(images.len() * len, 0.0);
    let mut rows: Vec<RowResult> = Vec::with_capacity(images.len());
    let mut filled = 0usize;
    let mut slot_of_row = Vec::with_capacity(images.len());
    for image in images {
        let Some(bytes) = image else {
            rows.push(Ok(None));
            slot_of_row.push(None);
            continue;
        };
        let written = decode_rgb(bytes, limits).and_then(|rgb| {
            WRITER.with(|writer| match writer.try_borrow_mut() {
                Ok(mut writer) => writer.write(&rgb, pre, limits, &mut tensor[filled * len..(filled + 1) * len]),
                Err(_) => TensorWriter::new().write(&rgb, pre, limits, &mut tensor[filled * len..(filled + 1) * len]),
            })
        });
        match written {
            Ok(()) => {
                rows.push(Ok(None));
                slot_of_row.push(Some(filled));
                filled += 1;
            }
            Err(error) => {
                rows.push(Err(error));
                slot_of_row.push(None);
            }
        }
    }
    if filled == 0 {
        return Ok(rows);
    }
    let (values, width) = match wanted {
        Wanted::Tensor => {
            tensor.truncate(filled * len);
            (std::mem::take(tensor), len)
        }
        Wanted::Output => {
            let Some(model) = model else { return Err(FeaturesError::Runtime("no model to run".into())) };
            let values = model.run(&tensor[..filled * len], filled, output)?;
            if values.len() % filled != 0 {
                return Err(FeaturesError::model(
                    &model.spec.name,
                    format!("output '{output}' has {} values for {filled} images", values.len()),
                ));
            }
            let width = values.len() / filled;
            (values, width)
        }
    };
    for (row, slot) in rows.iter_mut().zip(slot_of_row) {
        if let Some(slot) = slot {
            *row = Ok(Some(values[slot * width..(slot + 1) * width].to_vec()));
        }
    }
    Ok(rows)
}
