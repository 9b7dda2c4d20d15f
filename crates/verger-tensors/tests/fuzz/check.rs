//! The properties every input must keep on its way from bytes to tensor.

use super::alloc::measure;
use image::RgbImage;
use verger_tensors::{DecodeLimits, ImageError, Layout, Preprocess, TensorWriter, decode_rgb, image_info};

const MIB: usize = 1 << 20;

/// The most that decoding and preprocessing one image may allocate under `limits`: the PNG
/// decoder's allowance (8 bytes a pixel + 64 MiB, decode.rs), the RGB image and its upright
/// copy (3 + 3 a pixel), the writer's four-byte copy and resize intermediate (4 + 4 a pixel),
/// the target-sized buffers, and twice the input for the decoders' own copies of it.
pub fn memory_limit(limits: DecodeLimits, pre: &Preprocess, input_len: usize) -> usize {
    let pixels = usize::try_from(limits.max_pixels).unwrap_or(usize::MAX);
    let target = pre.width as usize * pre.height as usize;
    pixels.saturating_mul(22).saturating_add(64 * MIB).saturating_add(16 * target).saturating_add(2 * input_len)
}

/// What reading a header alone may allocate: `image_info`'s 64 MiB allowance for metadata
/// (info.rs), an eighth more for the inflater's last step past it, and twice the input.
pub fn header_limit(input_len: usize) -> usize {
    72 * MIB + 2 * input_len
}

/// The error kinds decoding may give; the others belong to the writer.
pub fn kind(error: &ImageError) -> &'static str {
    match error {
        ImageError::Empty => "empty",
        ImageError::UnknownFormat(_) => "unknown format",
        ImageError::NoPixels { .. } => "no pixels",
        ImageError::TooManyPixels { .. } => "too many pixels",
        ImageError::Corrupt { .. } => "corrupt",
        ImageError::MemoryLimit { .. } => "memory limit",
        ImageError::IntermediateTooLarge { .. } => "intermediate too large",
        ImageError::Resize(_) => "resize",
        ImageError::TensorSize { .. } => "tensor size",
    }
}

/// How one input ended, when it kept every property.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Decoded to this upright size and written as a tensor.
    Tensor(u32, u32),
    Refused(ImageError),
}

#[derive(Debug)]
pub struct Verdict {
    pub outcome: Outcome,
    /// Bytes allocated at the peak of decoding and writing.
    pub allocated: usize,
}

/// Runs `bytes` through `decode_rgb` and `TensorWriter::write` as verger-features does for
/// each row's `content` (one writer reused across rows, as its thread-local one), and checks:
/// - decoding either gives an upright image within `limits` whose size is the one
///   `image_info` reads from the header, or fails with a decoding error (never a writer's);
///   an image over the pixel limit is refused with `TooManyPixels`, its numbers right;
/// - a decoded image becomes a tensor, every value finite and within the range the
///   normalisation gives 8-bit levels, unless the resize's intermediate would be over the
///   pixel limit, refused with `IntermediateTooLarge`, its numbers right;
/// - neither allocates beyond [`memory_limit`], nor `image_info` beyond [`header_limit`].
///
/// Panics are not caught here: the caller's harness reports them.
pub fn check(bytes: &[u8], limits: DecodeLimits, pre: &Preprocess, writer: &mut TensorWriter, out: &mut [f32]) -> Result<Verdict, String> {
    let ((decoded, written), allocated) = measure(|| {
        let decoded = decode_rgb(bytes, limits);
        let written = decoded.as_ref().ok().map(|image| writer.write(image, pre, limits, out));
        (decoded, written)
    });
    let limit = memory_limit(limits, pre, bytes.len());
    if allocated > limit {
        return Err(format!("allocated {allocated} bytes, over the limit of {limit} for max_pixels {}", limits.max_pixels));
    }
    let (info, info_allocated) = measure(|| image_info(bytes));
    if info_allocated > header_limit(bytes.len()) {
        return Err(format!("image_info allocated {info_allocated} bytes, over {} for a header", header_limit(bytes.len())));
    }
    let outcome = match decoded {
        Err(error) => {
            check_refusal(&error, limits)?;
            Outcome::Refused(error)
        }
        Ok(image) => {
            check_image(&image, limits, bytes)?;
            match written {
                Some(Ok(())) => check_tensor(out, pre)?,
                Some(Err(ImageError::IntermediateTooLarge { width, height, target_width, pixels, limit }))
                    if (width, height) == image.dimensions()
                        && target_width <= pre.width
                        && pixels == u64::from(target_width) * u64::from(height)
                        && pixels > limit
                        && limit == limits.max_pixels =>
                {
                    return Ok(Verdict {
                        outcome: Outcome::Refused(ImageError::IntermediateTooLarge { width, height, target_width, pixels, limit }),
                        allocated,
                    });
                }
                Some(Err(error)) => return Err(format!("a decoded {:?} image was not written: {error}", image.dimensions())),
                None => return Err("a decoded image was not written".into()),
            }
            Outcome::Tensor(image.width(), image.height())
        }
    };
    if let (Outcome::Tensor(w, h), Ok(info)) = (&outcome, &info)
        && (info.width, info.height) != (*w, *h)
    {
        return Err(format!("decoded {w}x{h} but image_info reads {}x{}", info.width, info.height));
    }
    if let (Outcome::Tensor(..), Err(error)) = (&outcome, &info) {
        return Err(format!("decoded, but image_info fails: {error}"));
    }
    Ok(Verdict { outcome, allocated })
}

fn check_refusal(error: &ImageError, limits: DecodeLimits) -> Result<(), String> {
    if error.to_string().is_empty() {
        return Err(format!("{error:?} has no message"));
    }
    match error {
        ImageError::Empty | ImageError::UnknownFormat(_) | ImageError::Corrupt { .. } => Ok(()),
        ImageError::MemoryLimit { format: "PNG", allowance } if *allowance == 8 * limits.max_pixels + (64 << 20) => Ok(()),
        ImageError::NoPixels { width, height } if *width == 0 || *height == 0 => Ok(()),
        ImageError::TooManyPixels { width, height, pixels, limit }
            if *pixels == width.saturating_mul(*height) && *pixels > *limit && *limit == limits.max_pixels =>
        {
            Ok(())
        }
        other => Err(format!("decoding failed with a wrong error: {other:?}")),
    }
}

fn check_image(image: &RgbImage, limits: DecodeLimits, bytes: &[u8]) -> Result<(), String> {
    let (w, h) = image.dimensions();
    if w == 0 || h == 0 || u64::from(w) * u64::from(h) > limits.max_pixels {
        return Err(format!("decoded a {w}x{h} image under max_pixels {}", limits.max_pixels));
    }
    if image.as_raw().len() != 3 * w as usize * h as usize {
        return Err(format!("a {w}x{h} image holds {} bytes", image.as_raw().len()));
    }
    if bytes.is_empty() {
        return Err("decoded an empty file".into());
    }
    Ok(())
}

/// Every value is `(level × scale − mean[c]) / std[c]` for some level 0–255.
fn check_tensor(out: &[f32], pre: &Preprocess) -> Result<(), String> {
    let plane = out.len() / 3;
    let bounds: Vec<(f32, f32)> = (0..3)
        .map(|c| {
            let (lo, hi) = ((0.0 * pre.scale - pre.mean[c]) / pre.std[c], (255.0 * pre.scale - pre.mean[c]) / pre.std[c]);
            (lo.min(hi) - 1e-5, lo.max(hi) + 1e-5)
        })
        .collect();
    for (i, value) in out.iter().enumerate() {
        let channel = match pre.layout {
            Layout::Nchw => i / plane,
            Layout::Nhwc => i % 3,
        };
        let (lo, hi) = bounds[channel];
        if !value.is_finite() || *value < lo || *value > hi {
            return Err(format!("tensor value {i} is {value}, outside [{lo}, {hi}]"));
        }
    }
    Ok(())
}
