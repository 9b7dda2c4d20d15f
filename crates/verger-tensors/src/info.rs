//! Image headers: format, size and channels without decoding pixels.

use crate::decode::{jpeg_options, png_decoder};
use crate::error::{ImageError, Result};
use image::ImageDecoder;
use image::metadata::Orientation;
use zune_core::bytestream::ZCursor;
use zune_jpeg::JpegDecoder;

/// The image formats verger decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageFormat {
    Jpeg,
    Png,
}

impl ImageFormat {
    /// The lower-case name `image_info` reports.
    pub fn name(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "jpeg",
            ImageFormat::Png => "png",
        }
    }
}

/// What an image's header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ImageInfo {
    pub format: ImageFormat,
    /// Width as displayed, i.e. after the EXIF orientation (a portrait photo stored sideways
    /// reports its portrait width).
    pub width: u32,
    pub height: u32,
    /// Channels stored in the file: 1 (gray), 2 (gray + alpha), 3 (RGB / YCbCr), 4 (RGBA / CMYK).
    pub channels: u8,
}

/// What reading a PNG header may allocate: its metadata (ICC profile, text, EXIF) within
/// 64 MiB, far more than any photo's; a bigger one is a decompression bomb, refused.
pub(crate) const HEADER_ALLOWANCE: u64 = 64 << 20;

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// The format of `bytes`, from their first bytes (file names can lie).
pub(crate) fn sniff(bytes: &[u8]) -> Result<ImageFormat> {
    if bytes.is_empty() {
        return Err(ImageError::Empty);
    }
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(ImageFormat::Jpeg);
    }
    if bytes.starts_with(PNG_SIGNATURE) {
        return Ok(ImageFormat::Png);
    }
    let head: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
    Err(ImageError::UnknownFormat(head.join(" ")))
}

fn swaps_axes(orientation: Orientation) -> bool {
    matches!(orientation, Orientation::Rotate90 | Orientation::Rotate270 | Orientation::Rotate90FlipH | Orientation::Rotate270FlipH)
}

/// Reads the header of a JPEG or PNG: no pixel is decoded.
pub fn image_info(bytes: &[u8]) -> Result<ImageInfo> {
    let format = sniff(bytes)?;
    let (width, height, channels, orientation) = match format {
        ImageFormat::Jpeg => {
            let mut decoder = JpegDecoder::new_with_options(ZCursor::new(bytes), jpeg_options());
            decoder.decode_headers().map_err(|e| ImageError::Corrupt { format: "JPEG", reason: e.to_string() })?;
            let info = decoder.info().ok_or_else(|| ImageError::Corrupt { format: "JPEG", reason: "no frame header".into() })?;
            let orientation = info.exif_data.as_deref().and_then(Orientation::from_exif_chunk).unwrap_or(Orientation::NoTransforms);
            (u32::from(info.width), u32::from(info.height), info.components, orientation)
        }
        ImageFormat::Png => {
            let mut decoder = png_decoder(bytes, HEADER_ALLOWANCE)?;
            let (width, height) = decoder.dimensions();
            let channels = decoder.original_color_type().channel_count();
            let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
            (width, height, channels, orientation)
        }
    };
    let (width, height) = if swaps_axes(orientation) { (height, width) } else { (width, height) };
    Ok(ImageInfo { format, width, height, channels })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jpeg_headers_give_size_and_channels() -> std::result::Result<(), Box<dyn std::error::Error>> {
        let jpeg = verger_imagegen::render_jpeg(2, 0, 1)?;
        let info = image_info(&jpeg)?;
        assert_eq!(info, ImageInfo { format: ImageFormat::Jpeg, width: 100, height: 100, channels: 3 });
        // The header is enough: the scan data can be missing.
        assert_eq!(image_info(&jpeg[..jpeg.len() / 4])?.width, 100);
        Ok(())
    }

    /// A PNG whose text chunk holds 70 MiB: its header is refused past the 64 MiB allowance
    /// (before, the header reader had no bound at all).
    #[test]
    fn metadata_over_the_header_allowance_is_refused() {
        let chunk = |kind: &[u8], data: &[u8]| {
            let mut crc_input = kind.to_vec();
            crc_input.extend_from_slice(data);
            [&(data.len() as u32).to_be_bytes()[..], kind, data, &crc32fast::hash(&crc_input).to_be_bytes()].concat()
        };
        let header = [&1u32.to_be_bytes()[..], &1u32.to_be_bytes(), &[8, 2, 0, 0, 0]].concat();
        let mut text = b"Comment\x00".to_vec();
        text.resize(70 << 20, b'x');
        let pixel = miniz_oxide::deflate::compress_to_vec_zlib(&[0, 1, 2, 3], 6);
        let png = [PNG_SIGNATURE, &chunk(b"IHDR", &header), &chunk(b"tEXt", &text), &chunk(b"IDAT", &pixel), &chunk(b"IEND", b"")].concat();
        assert_eq!(image_info(&png), Err(ImageError::MemoryLimit { format: "PNG", allowance: HEADER_ALLOWANCE }));
    }

    #[test]
    fn other_bytes_are_named() {
        assert_eq!(image_info(b"GIF89a...."), Err(ImageError::UnknownFormat("47 49 46 38 39 61 2e 2e".into())));
    }
}
