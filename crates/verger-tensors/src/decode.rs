//! Decoding JPEG and PNG into 8-bit RGB, with EXIF orientation applied.

use crate::error::{ImageError, Result};
use crate::info::{ImageFormat, sniff};
use image::codecs::png::PngDecoder;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, Limits, RgbImage};
use std::io::Cursor;
use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;
use zune_jpeg::JpegDecoder;

/// Largest image decoded by default: 100 megapixels (a 300 MB RGB buffer).
pub const DEFAULT_MAX_PIXELS: u64 = 100_000_000;

/// Bounds on what decoding may allocate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DecodeLimits {
    /// Images with more pixels than this are refused from their header, before decoding.
    pub max_pixels: u64,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self { max_pixels: DEFAULT_MAX_PIXELS }
    }
}

impl DecodeLimits {
    pub(crate) fn check(&self, width: u64, height: u64) -> Result<()> {
        if width == 0 || height == 0 {
            return Err(ImageError::NoPixels { width, height });
        }
        let pixels = width.saturating_mul(height);
        if pixels > self.max_pixels {
            return Err(ImageError::TooManyPixels { width, height, pixels, limit: self.max_pixels });
        }
        Ok(())
    }
}

/// Decodes a JPEG or PNG (recognised from its bytes, not its name) to 8-bit RGB, upright:
/// grayscale is expanded, CMYK converted, 16-bit samples reduced, alpha dropped (as PIL's
/// `convert("RGB")`), and the EXIF orientation applied. Truncated files are errors, as in PIL.
pub fn decode_rgb(bytes: &[u8], limits: DecodeLimits) -> Result<RgbImage> {
    match sniff(bytes)? {
        ImageFormat::Jpeg => decode_jpeg(bytes, limits),
        ImageFormat::Png => decode_png(bytes, limits),
    }
}

pub(crate) fn jpeg_options() -> DecoderOptions {
    // JPEG dimensions are 16-bit: verger's own pixel limit is the bound that matters.
    DecoderOptions::default().set_max_width(usize::MAX).set_max_height(usize::MAX)
}

fn jpeg_error(error: impl std::fmt::Display) -> ImageError {
    ImageError::Corrupt { format: "JPEG", reason: error.to_string() }
}

fn decode_jpeg(bytes: &[u8], limits: DecodeLimits) -> Result<RgbImage> {
    // Strict mode: a file cut short is an error rather than an image padded with grey.
    let options = jpeg_options().set_strict_mode(true).jpeg_set_out_colorspace(ColorSpace::RGB);
    let mut decoder = JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    decoder.decode_headers().map_err(jpeg_error)?;
    let (width, height) = decoder.dimensions().ok_or_else(|| jpeg_error("no frame header"))?;
    limits.check(width as u64, height as u64)?;
    let orientation = decoder.exif().and_then(|exif| Orientation::from_exif_chunk(exif)).unwrap_or(Orientation::NoTransforms);
    let pixels = decoder.decode().map_err(jpeg_error)?;
    let image = RgbImage::from_raw(width as u32, height as u32, pixels)
        .ok_or_else(|| jpeg_error(format!("the decoder returned too few pixels for {width}x{height}")))?;
    Ok(upright(image, orientation))
}

fn png_error(error: impl std::fmt::Display) -> ImageError {
    ImageError::Corrupt { format: "PNG", reason: error.to_string() }
}

/// A PNG decoder of `bytes` that allocates at most `allowance` bytes, metadata included.
/// `PngDecoder::new` has no bound at all, and it reads the header's chunks up to the first
/// pixel data, inflating an ICC profile as it goes: a 250 KB file could make it allocate
/// 256 MiB before any pixel limit is looked at.
pub(crate) fn png_decoder(bytes: &[u8], allowance: u64) -> Result<PngDecoder<Cursor<&[u8]>>> {
    let mut limits = Limits::default();
    limits.max_alloc = Some(allowance);
    PngDecoder::with_limits(Cursor::new(bytes), limits).map_err(|e| png_decoding_error(e, allowance))
}

/// A PNG decoding error; running out of the allowance is named as such.
pub(crate) fn png_decoding_error(error: image::ImageError, allowance: u64) -> ImageError {
    match error {
        image::ImageError::Limits(_) => ImageError::MemoryLimit { format: "PNG", allowance },
        other => png_error(other),
    }
}

/// What a PNG's decoder may allocate: 8 bytes a pixel of the limit (16-bit RGBA) and 64 MiB
/// for its own buffers and the metadata.
fn png_allowance(limits: DecodeLimits) -> u64 {
    limits.max_pixels.saturating_mul(8).saturating_add(64 << 20)
}

fn decode_png(bytes: &[u8], limits: DecodeLimits) -> Result<RgbImage> {
    let allowance = png_allowance(limits);
    let mut decoder = png_decoder(bytes, allowance)?;
    let (width, height) = decoder.dimensions();
    limits.check(u64::from(width), u64::from(height))?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let image = DynamicImage::from_decoder(decoder).map_err(|e| png_decoding_error(e, allowance))?;
    Ok(upright(image.into_rgb8(), orientation))
}

fn upright(image: RgbImage, orientation: Orientation) -> RgbImage {
    if orientation == Orientation::NoTransforms {
        return image;
    }
    let mut image = DynamicImage::ImageRgb8(image);
    image.apply_orientation(orientation);
    image.into_rgb8()
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageBuffer, ImageEncoder, Luma, Rgb, Rgba};

    fn png_bytes<P: image::PixelWithColorType>(image: &ImageBuffer<P, Vec<P::Subpixel>>) -> Vec<u8>
    where
        [P::Subpixel]: image::EncodableLayout,
    {
        let mut out = Vec::new();
        let encoder = image::codecs::png::PngEncoder::new(&mut out);
        let written = encoder.write_image(image.as_raw().as_bytes(), image.width(), image.height(), P::COLOR_TYPE);
        assert!(written.is_ok());
        out
    }

    use image::EncodableLayout;

    #[test]
    fn generated_jpegs_decode_to_their_size() -> Result<()> {
        let jpeg = verger_imagegen::render_jpeg(0, 3, 7).map_err(jpeg_error)?;
        let image = decode_rgb(&jpeg, DecodeLimits::default())?;
        assert_eq!(image.dimensions(), (100, 100));
        Ok(())
    }

    #[test]
    fn grayscale_rgba_and_16_bit_pngs_become_rgb8() -> Result<()> {
        let gray = png_bytes(&ImageBuffer::from_pixel(4, 3, Luma([200u8])));
        assert_eq!(decode_rgb(&gray, DecodeLimits::default())?.get_pixel(0, 0), &Rgb([200, 200, 200]));
        let rgba = png_bytes(&ImageBuffer::from_pixel(4, 3, Rgba([10u8, 20, 30, 0])));
        assert_eq!(decode_rgb(&rgba, DecodeLimits::default())?.get_pixel(1, 1), &Rgb([10, 20, 30]));
        let deep = png_bytes(&ImageBuffer::from_pixel(4, 3, Rgb([65535u16, 0, 32896])));
        assert_eq!(decode_rgb(&deep, DecodeLimits::default())?.get_pixel(2, 2), &Rgb([255, 0, 128]));
        Ok(())
    }

    #[test]
    fn truncated_and_foreign_bytes_are_errors() -> Result<()> {
        let jpeg = verger_imagegen::render_jpeg(1, 1, 7).map_err(jpeg_error)?;
        let cut = &jpeg[..jpeg.len() * 2 / 3];
        assert!(matches!(decode_rgb(cut, DecodeLimits::default()), Err(ImageError::Corrupt { format: "JPEG", .. })));
        let png = png_bytes(&ImageBuffer::from_pixel(40, 30, Rgb([1u8, 2, 3])));
        assert!(matches!(decode_rgb(&png[..png.len() / 2], DecodeLimits::default()), Err(ImageError::Corrupt { format: "PNG", .. })));
        assert!(matches!(decode_rgb(b"hello, I am text", DecodeLimits::default()), Err(ImageError::UnknownFormat(_))));
        assert_eq!(decode_rgb(b"", DecodeLimits::default()), Err(ImageError::Empty));
        Ok(())
    }

    #[test]
    fn the_pixel_limit_is_checked_from_the_header() {
        let png = png_bytes(&ImageBuffer::from_pixel(40, 30, Rgb([1u8, 2, 3])));
        let refused = decode_rgb(&png, DecodeLimits { max_pixels: 1000 });
        assert!(matches!(refused, Err(ImageError::TooManyPixels { width: 40, height: 30, pixels: 1200, limit: 1000 })));
    }
}
