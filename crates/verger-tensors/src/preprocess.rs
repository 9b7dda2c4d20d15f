//! A decoded image to a model's input tensor: resize, normalise, lay out.

use crate::decode::DecodeLimits;
use crate::error::{ImageError, Result};
use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::RgbImage;

/// Order of the values of one image in the tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layout {
    /// channel planes: `[3, height, width]` (PyTorch, ONNX exports of it)
    Nchw,
    /// interleaved: `[height, width, 3]` (TensorFlow / Keras)
    Nhwc,
}

/// How an image gets the model's input size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ResizeMode {
    /// Plain resize to the input size, aspect ratio not kept (the seeds' `resize([224, 224])`;
    /// right for square cut-outs such as Fruits-360's 100×100 images).
    Stretch,
    /// Resize so the input covers `fraction` of the shorter side, then take the centre
    /// (ImageNet evaluation: shorter side to 256, centre 224×224 is `fraction` 0.875).
    CenterCrop { fraction: f32 },
    /// Fit the whole image inside the input size, keeping its aspect ratio, and fill the rest
    /// with the gray level `fill`.
    Pad { fill: u8 },
}

/// A model's preprocessing: `x = (pixel × scale − mean[c]) / std[c]` for pixel values 0–255,
/// after resizing to `width` × `height` with a bicubic (Catmull-Rom, PIL's `BICUBIC`) filter.
#[derive(Debug, Clone, PartialEq)]
pub struct Preprocess {
    pub width: u32,
    pub height: u32,
    pub layout: Layout,
    pub resize: ResizeMode,
    pub scale: f32,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

impl Preprocess {
    /// Values per image: 3 × width × height.
    pub fn tensor_len(&self) -> usize {
        3 * self.width as usize * self.height as usize
    }

    /// The tensor shape of `batch` images.
    pub fn shape(&self, batch: usize) -> [usize; 4] {
        let (h, w) = (self.height as usize, self.width as usize);
        match self.layout {
            Layout::Nchw => [batch, 3, h, w],
            Layout::Nhwc => [batch, h, w, 3],
        }
    }

    fn scaling(&self) -> Scaling {
        Scaling { scale: self.scale, mean: self.mean, std: self.std }
    }
}

/// The normalisation's constants, by value so that the vectorised loops keep them in registers.
#[derive(Clone, Copy)]
struct Scaling {
    scale: f32,
    mean: [f32; 3],
    std: [f32; 3],
}

impl Scaling {
    /// The normalised value of the 8-bit `level` of `channel`. Every tensor value is computed
    /// with exactly these operations, vectorised or not, so the values never depend on the CPU.
    #[inline(always)]
    fn value(self, channel: usize, level: u8) -> f32 {
        (f32::from(level) * self.scale - self.mean[channel]) / self.std[channel]
    }
}

/// Writes tensors; keeps its resizer and scratch buffers between images (one per thread).
///
/// Pixels are resized as four bytes (RGB and a constant fourth byte): fast_image_resize's
/// four-channel kernels are ~20 % faster than its three-channel ones on the 100 → 224
/// upscale, and give the same bytes per channel (checked on every pixel of generated photos
/// in the tests).
///
/// The resize runs as PIL's does: a horizontal pass, rounded to bytes, then a vertical one.
/// fast_image_resize on its own runs the vertical pass first for 8-bit images, which on an
/// upscale makes the costlier horizontal pass work on the enlarged height.
#[derive(Default)]
pub struct TensorWriter {
    resizer: Resizer,
    source: Vec<u8>,
    /// After the horizontal pass: the output's width, the source region's height.
    widened: Vec<u8>,
    resized: Vec<u8>,
    fitted: Vec<u8>,
}

impl std::fmt::Debug for TensorWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TensorWriter").finish_non_exhaustive()
    }
}

/// Bytes per pixel of the resizing buffers.
const PIXEL_BYTES: usize = 4;

fn bicubic() -> ResizeOptions {
    // The fourth byte is no alpha: nothing to premultiply.
    ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::CatmullRom)).use_alpha(false)
}

fn resize_error(error: impl std::fmt::Display) -> ImageError {
    ImageError::Resize(error.to_string())
}

/// Makes `buffer` `len` bytes long, filled with `fill` when its length changes. A buffer
/// already that long is kept as it is: its users overwrite every byte they read, and
/// refilling the ~330 KB of an image's buffers was a memset per image.
fn set_len(buffer: &mut Vec<u8>, len: usize, fill: u8) {
    if buffer.len() != len {
        buffer.clear();
        buffer.resize(len, fill);
    }
}

/// The part of a source image that is resized to the whole target: `left`, `top`, `width`,
/// `height` in source pixels (fractions allowed).
#[derive(Debug, Clone, Copy, PartialEq)]
struct SourceRegion {
    left: f64,
    top: f64,
    width: f64,
    height: f64,
}

impl SourceRegion {
    fn whole(width: u32, height: u32) -> Self {
        Self { left: 0.0, top: 0.0, width: f64::from(width), height: f64::from(height) }
    }
}

/// Resizes `region` of the four-byte image `source` (`src_w` × `src_h`) to `target`
/// (`dst_w` × `dst_h`): every source row horizontally into `widened` (the vertical filter
/// reads rows around the region too), then vertically.
///
/// `widened` is `dst_w` × `src_h`; [`check_intermediate`] has bounded it.
fn resize_region(
    resizer: &mut Resizer,
    source: &[u8],
    (src_w, src_h): (u32, u32),
    region: SourceRegion,
    widened: &mut Vec<u8>,
    target: &mut [u8],
    (dst_w, dst_h): (u32, u32),
) -> Result<()> {
    set_len(widened, PIXEL_BYTES * dst_w as usize * src_h as usize, 0);
    let whole = ImageRef::new(src_w, src_h, source, PixelType::U8x4).map_err(resize_error)?;
    let mut wide = Image::from_slice_u8(dst_w, src_h, widened, PixelType::U8x4).map_err(resize_error)?;
    let horizontal = bicubic().crop(region.left, 0.0, region.width, f64::from(src_h));
    resizer.resize(&whole, &mut wide, &horizontal).map_err(resize_error)?;
    let wide = ImageRef::new(dst_w, src_h, widened, PixelType::U8x4).map_err(resize_error)?;
    let mut out = Image::from_slice_u8(dst_w, dst_h, target, PixelType::U8x4).map_err(resize_error)?;
    let vertical = bicubic().crop(0.0, region.top, f64::from(dst_w), region.height);
    resizer.resize(&wide, &mut out, &vertical).map_err(resize_error)
}

/// The horizontal pass's output, `dst_w` × `src_h`, is for a narrow image many times the
/// image itself (a 1 × 100,000,000 PNG, under the default pixel limit, would need an 89.6 GB
/// intermediate; PIL's resize has the same shape). It is held to the pixel limit of decoding,
/// so that memory stays bounded by `limits` whatever the aspect ratio.
fn check_intermediate((src_w, src_h): (u32, u32), dst_w: u32, limits: DecodeLimits) -> Result<()> {
    let pixels = u64::from(dst_w) * u64::from(src_h);
    if pixels > limits.max_pixels {
        return Err(ImageError::IntermediateTooLarge {
            width: src_w,
            height: src_h,
            target_width: dst_w,
            pixels,
            limit: limits.max_pixels,
        });
    }
    Ok(())
}

impl TensorWriter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes `image` preprocessed by `pre` into `out`, which holds exactly one image's tensor.
    /// `limits` (those the image was decoded under) bound the resize's intermediate image.
    pub fn write(&mut self, image: &RgbImage, pre: &Preprocess, limits: DecodeLimits, out: &mut [f32]) -> Result<()> {
        if out.len() != pre.tensor_len() {
            return Err(ImageError::TensorSize { expected: pre.tensor_len(), actual: out.len() });
        }
        let (width, height) = (pre.width, pre.height);
        let (src_w, src_h) = image.dimensions();
        // The fourth bytes keep the fill: only the first three of each pixel are written.
        set_len(&mut self.source, PIXEL_BYTES * src_w as usize * src_h as usize, u8::MAX);
        for (rgb, padded) in image.as_raw().chunks_exact(3).zip(self.source.chunks_exact_mut(PIXEL_BYTES)) {
            padded[..3].copy_from_slice(rgb);
        }
        let pixels = width as usize * height as usize;
        if pre.resize == ResizeMode::Stretch && (src_w, src_h) == (width, height) {
            normalise(&self.source, pre, out);
            return Ok(());
        }
        set_len(&mut self.resized, PIXEL_BYTES * pixels, 0);
        let size = (src_w, src_h);
        match pre.resize {
            ResizeMode::Stretch => {
                check_intermediate(size, width, limits)?;
                resize_region(
                    &mut self.resizer,
                    &self.source,
                    size,
                    SourceRegion::whole(src_w, src_h),
                    &mut self.widened,
                    &mut self.resized,
                    (width, height),
                )?;
            }
            ResizeMode::CenterCrop { fraction } => {
                // The source region that, scaled by `k`, is the input; it spans `fraction` of
                // the side that limits the crop.
                let k = (f64::from(width) / f64::from(src_w)).max(f64::from(height) / f64::from(src_h)) / f64::from(fraction);
                let (crop_w, crop_h) = ((f64::from(width) / k).min(f64::from(src_w)), (f64::from(height) / k).min(f64::from(src_h)));
                check_intermediate(size, width, limits)?;
                let region = SourceRegion {
                    left: (f64::from(src_w) - crop_w) / 2.0,
                    top: (f64::from(src_h) - crop_h) / 2.0,
                    width: crop_w,
                    height: crop_h,
                };
                resize_region(&mut self.resizer, &self.source, size, region, &mut self.widened, &mut self.resized, (width, height))?;
            }
            ResizeMode::Pad { fill } => {
                let k = (f64::from(width) / f64::from(src_w)).min(f64::from(height) / f64::from(src_h));
                let fit_w = ((f64::from(src_w) * k).round() as u32).clamp(1, width);
                let fit_h = ((f64::from(src_h) * k).round() as u32).clamp(1, height);
                check_intermediate(size, fit_w, limits)?;
                set_len(&mut self.fitted, PIXEL_BYTES * fit_w as usize * fit_h as usize, 0);
                resize_region(
                    &mut self.resizer,
                    &self.source,
                    size,
                    SourceRegion::whole(src_w, src_h),
                    &mut self.widened,
                    &mut self.fitted,
                    (fit_w, fit_h),
                )?;
                self.resized.fill(fill);
                let (left, top) = (((width - fit_w) / 2) as usize, ((height - fit_h) / 2) as usize);
                let row_bytes = PIXEL_BYTES * fit_w as usize;
                for (row, line) in self.fitted.chunks_exact(row_bytes).enumerate() {
                    let start = PIXEL_BYTES * ((top + row) * width as usize + left);
                    self.resized[start..start + row_bytes].copy_from_slice(line);
                }
            }
        }
        normalise(&self.resized, pre, out);
        Ok(())
    }
}

/// Normalises four-byte pixels (the fourth ignored) into `out` in `pre`'s layout.
///
/// It runs with the widest SIMD the CPU has (pulp's runtime dispatch): on AVX2 the arithmetic
/// takes a third of the time of a per-level lookup table, which was 1 % of a pipeline's CPU.
/// Multiply, subtract and divide are exact IEEE operations in any width (Rust never fuses
/// them), so every CPU writes the same values.
fn normalise(pixels: &[u8], pre: &Preprocess, out: &mut [f32]) {
    pulp::Arch::new().dispatch(Normalise { pixels, layout: pre.layout, scaling: pre.scaling(), out });
}

struct Normalise<'a> {
    pixels: &'a [u8],
    layout: Layout,
    scaling: Scaling,
    out: &'a mut [f32],
}

impl pulp::WithSimd for Normalise<'_> {
    type Output = ();

    // Inlined into pulp's target-feature wrapper, so the loops below are compiled for it.
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let Normalise { pixels, layout, scaling, out } = self;
        match layout {
            Layout::Nhwc => {
                for (pixel, values) in pixels.chunks_exact(PIXEL_BYTES).zip(out.chunks_exact_mut(3)) {
                    for (channel, value) in values.iter_mut().enumerate() {
                        *value = scaling.value(channel, pixel[channel]);
                    }
                }
            }
            Layout::Nchw => {
                let plane = out.len() / 3;
                let (red, rest) = out.split_at_mut(plane);
                let (green, blue) = rest.split_at_mut(plane);
                for (((pixel, r), g), b) in pixels.chunks_exact(PIXEL_BYTES).zip(red).zip(green).zip(blue) {
                    *r = scaling.value(0, pixel[0]);
                    *g = scaling.value(1, pixel[1]);
                    *b = scaling.value(2, pixel[2]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    fn preprocess(resize: ResizeMode, layout: Layout) -> Preprocess {
        Preprocess { width: 4, height: 2, layout, resize, scale: 1.0, mean: [127.0; 3], std: [128.0; 3] }
    }

    #[test]
    fn same_size_images_are_only_normalised_in_either_layout() -> Result<()> {
        let image = RgbImage::from_fn(4, 2, |x, y| Rgb([(x * 10) as u8, (y * 100) as u8, 255]));
        let mut writer = TensorWriter::new();
        let mut planar = vec![0.0; 24];
        writer.write(&image, &preprocess(ResizeMode::Stretch, Layout::Nchw), DecodeLimits::default(), &mut planar)?;
        assert_eq!(planar[1], (10.0 - 127.0) / 128.0);
        assert_eq!(planar[8 + 4], (100.0 - 127.0) / 128.0);
        assert_eq!(planar[16], 1.0);
        let mut interleaved = vec![0.0; 24];
        writer.write(&image, &preprocess(ResizeMode::Stretch, Layout::Nhwc), DecodeLimits::default(), &mut interleaved)?;
        assert_eq!(&interleaved[3..6], &[(10.0 - 127.0) / 128.0, -127.0 / 128.0, 1.0]);
        Ok(())
    }

    /// The vectorised normalisation writes, for every level of every channel and in both
    /// layouts, the value of the scalar formula (ImageNet's constants: no value is exact).
    #[test]
    fn normalisation_matches_the_scalar_formula_bit_for_bit() {
        let pre = |layout| Preprocess {
            width: 256,
            height: 1,
            layout,
            resize: ResizeMode::Stretch,
            scale: 1.0 / 255.0,
            mean: [0.485, 0.456, 0.406],
            std: [0.229, 0.224, 0.225],
        };
        let levels = |pixel: usize| [pixel as u8, (255 - pixel) as u8, (pixel * 7 % 256) as u8];
        let pixels: Vec<u8> = (0..256)
            .flat_map(|pixel| {
                let [r, g, b] = levels(pixel);
                [r, g, b, u8::MAX]
            })
            .collect();
        let scalar = |pre: &Preprocess, channel: usize, level: u8| (f32::from(level) * pre.scale - pre.mean[channel]) / pre.std[channel];
        for layout in [Layout::Nchw, Layout::Nhwc] {
            let pre = pre(layout);
            let mut out = vec![f32::NAN; pre.tensor_len()];
            normalise(&pixels, &pre, &mut out);
            for pixel in 0..256 {
                for (channel, level) in levels(pixel).into_iter().enumerate() {
                    let at = match layout {
                        Layout::Nchw => channel * 256 + pixel,
                        Layout::Nhwc => pixel * 3 + channel,
                    };
                    assert_eq!(out[at].to_bits(), scalar(&pre, channel, level).to_bits(), "{layout:?}, pixel {pixel}, channel {channel}");
                }
            }
        }
    }

    #[test]
    fn padding_keeps_the_aspect_ratio() -> Result<()> {
        let image = RgbImage::from_pixel(2, 2, Rgb([0, 0, 0]));
        let mut out = vec![0.0; 24];
        TensorWriter::new().write(&image, &preprocess(ResizeMode::Pad { fill: 255 }, Layout::Nhwc), DecodeLimits::default(), &mut out)?;
        let black = -127.0 / 128.0;
        let white = 1.0;
        // 2×2 scaled to 2×2, centred in 4×2: columns 1 and 2 are the image.
        assert_eq!(out[0], white);
        assert_eq!(out[3], black);
        assert_eq!(out[9], white);
        Ok(())
    }

    #[test]
    fn centre_crop_takes_the_middle() -> Result<()> {
        // A 30×10 image whose middle third is white: the crop of a 4×2 input sees only white.
        let image = RgbImage::from_fn(30, 10, |x, _| if (10..20).contains(&x) { Rgb([255, 255, 255]) } else { Rgb([0, 0, 0]) });
        let pre = Preprocess { width: 2, height: 2, ..preprocess(ResizeMode::CenterCrop { fraction: 0.5 }, Layout::Nchw) };
        let mut out = vec![0.0; 12];
        TensorWriter::new().write(&image, &pre, DecodeLimits::default(), &mut out)?;
        assert!(out.iter().all(|v| (v - 1.0).abs() < 1e-6), "{out:?}");
        Ok(())
    }

    /// PIL's two passes on three-channel pixels: horizontal (rounded to bytes), then vertical.
    fn three_channel_resize(image: &RgbImage, (left, top, crop_w, crop_h): (f64, f64, f64, f64)) -> Result<Vec<u8>> {
        let mut resizer = Resizer::new();
        let (src_w, src_h) = image.dimensions();
        let source = ImageRef::new(src_w, src_h, image.as_raw(), PixelType::U8x3).map_err(resize_error)?;
        let mut widened = vec![0u8; 224 * src_h as usize * 3];
        let mut wide = Image::from_slice_u8(224, src_h, &mut widened, PixelType::U8x3).map_err(resize_error)?;
        let catmull_rom = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::CatmullRom));
        resizer.resize(&source, &mut wide, &catmull_rom.crop(left, 0.0, crop_w, f64::from(src_h))).map_err(resize_error)?;
        let wide = ImageRef::new(224, src_h, &widened, PixelType::U8x3).map_err(resize_error)?;
        let mut resized = vec![0u8; 224 * 224 * 3];
        let mut target = Image::from_slice_u8(224, 224, &mut resized, PixelType::U8x3).map_err(resize_error)?;
        resizer.resize(&wide, &mut target, &catmull_rom.crop(0.0, top, 224.0, crop_h)).map_err(resize_error)?;
        Ok(resized)
    }

    /// The four-byte resize gives, channel by channel, the bytes of fast_image_resize's
    /// three-channel kernels run in PIL's order, on generated photos and in each mode.
    #[test]
    fn four_byte_resizing_matches_three_channel_resizing() -> Result<()> {
        let modes =
            [(ResizeMode::Stretch, (0.0, 0.0, 100.0, 100.0)), (ResizeMode::CenterCrop { fraction: 0.875 }, (6.25, 6.25, 87.5, 87.5))];
        let mut writer = TensorWriter::new();
        for seed in 0..12 {
            let jpeg = verger_imagegen::render_jpeg(seed % 8, seed, 3).map_err(|e| ImageError::Resize(e.to_string()))?;
            let image = crate::decode_rgb(&jpeg, crate::DecodeLimits::default())?;
            for (resize, region) in modes {
                let pre =
                    Preprocess { width: 224, height: 224, layout: Layout::Nchw, resize, scale: 1.0, mean: [127.0; 3], std: [128.0; 3] };
                let expected = three_channel_resize(&image, region)?;
                let mut tensor = vec![0.0; pre.tensor_len()];
                writer.write(&image, &pre, DecodeLimits::default(), &mut tensor)?;
                let plane = 224 * 224;
                for (i, pixel) in expected.chunks_exact(3).enumerate() {
                    for channel in 0..3 {
                        let want = (f32::from(pixel[channel]) - 127.0) / 128.0;
                        assert_eq!(tensor[channel * plane + i], want, "seed {seed}, {resize:?}, pixel {i}, channel {channel}");
                    }
                }
            }
        }
        Ok(())
    }

    /// A 1 × 5,000 image under a 100,000-pixel limit: its 224-wide resize would go through
    /// 224 × 5,000 pixels, so stretching and cropping refuse it; padding (1 wide) writes it.
    #[test]
    fn a_narrow_image_is_refused_before_its_resize_intermediate_exists() -> Result<()> {
        let image = RgbImage::from_pixel(1, 5_000, Rgb([9, 9, 9]));
        let limits = DecodeLimits { max_pixels: 100_000 };
        let square = Preprocess { width: 224, height: 224, ..preprocess(ResizeMode::Stretch, Layout::Nchw) };
        let mut out = vec![0.0; square.tensor_len()];
        for resize in [ResizeMode::Stretch, ResizeMode::CenterCrop { fraction: 0.875 }] {
            let refused = TensorWriter::new().write(&image, &Preprocess { resize, ..square.clone() }, limits, &mut out);
            let expected =
                ImageError::IntermediateTooLarge { width: 1, height: 5_000, target_width: 224, pixels: 1_120_000, limit: 100_000 };
            assert_eq!(refused, Err(expected), "{resize:?}");
        }
        TensorWriter::new().write(&image, &Preprocess { resize: ResizeMode::Pad { fill: 0 }, ..square }, limits, &mut out)?;
        Ok(())
    }

    #[test]
    fn a_wrong_buffer_is_refused() {
        let image = RgbImage::new(4, 2);
        let refused =
            TensorWriter::new().write(&image, &preprocess(ResizeMode::Stretch, Layout::Nchw), DecodeLimits::default(), &mut [0.0; 3]);
        assert_eq!(refused, Err(ImageError::TensorSize { expected: 24, actual: 3 }));
    }
}
