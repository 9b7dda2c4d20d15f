//! Building image files for the fuzz target: encoded pixels, EXIF orientation blocks, PNG
//! chunks, and files whose headers lie.

use image::{ExtendedColorType, ImageEncoder};

/// Pixels of a smooth pattern with some noise (so that JPEG has texture to code), `channels`
/// samples of `sample_bytes` each, native-endian for 16-bit samples as the encoders want them.
pub fn pixels(width: u32, height: u32, channels: usize, sample_bytes: usize, seed: u64) -> Vec<u8> {
    let mut noise = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(width as usize * height as usize * channels * sample_bytes);
    for y in 0..u64::from(height) {
        for x in 0..u64::from(width) {
            for channel in 0..channels as u64 {
                // xorshift: cheap noise of a few levels
                noise ^= noise << 13;
                noise ^= noise >> 7;
                noise ^= noise << 17;
                let level = ((x * (3 + channel) + y * (5 + 2 * channel) + seed * 31) % 240 + noise % 16) as u16;
                if sample_bytes == 2 {
                    out.extend_from_slice(&(level * 257).to_ne_bytes());
                } else {
                    out.push(level as u8);
                }
            }
        }
    }
    out
}

/// A TIFF block (as EXIF stores it) with one entry: Orientation = `value`.
pub fn exif_orientation(value: u16) -> Vec<u8> {
    let mut exif = b"MM\x00\x2a\x00\x00\x00\x08".to_vec();
    exif.extend_from_slice(&1u16.to_be_bytes());
    exif.extend_from_slice(&[0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01]);
    exif.extend_from_slice(&value.to_be_bytes());
    exif.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    exif
}

pub fn encode_png(raw: &[u8], width: u32, height: u32, color: ExtendedColorType, exif: Option<Vec<u8>>) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut encoder = image::codecs::png::PngEncoder::new(&mut out);
    if let Some(exif) = exif {
        encoder.set_exif_metadata(exif).map_err(|e| e.to_string())?;
    }
    encoder.write_image(raw, width, height, color).map_err(|e| e.to_string())?;
    Ok(out)
}

pub fn encode_jpeg(
    raw: &[u8],
    width: u32,
    height: u32,
    color: ExtendedColorType,
    quality: u8,
    exif: Option<Vec<u8>>,
) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality);
    if let Some(exif) = exif {
        encoder.set_exif_metadata(exif).map_err(|e| e.to_string())?;
    }
    encoder.write_image(raw, width, height, color).map_err(|e| e.to_string())?;
    Ok(out)
}

pub const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

pub fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut chunk = Vec::with_capacity(data.len() + 12);
    chunk.extend_from_slice(&(data.len() as u32).to_be_bytes());
    chunk.extend_from_slice(kind);
    chunk.extend_from_slice(data);
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    chunk.extend_from_slice(&crc.finalize().to_be_bytes());
    chunk
}

/// A valid PNG header claiming `width` × `height` RGB pixels, with a few bytes of data
/// (tests/python/test_bad_inputs.py's header bomb).
pub fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut header = Vec::with_capacity(13);
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]);
    let data = miniz_oxide::deflate::compress_to_vec_zlib(&[0u8; 1024], 6);
    [PNG_SIGNATURE.to_vec(), png_chunk(b"IHDR", &header), png_chunk(b"IDAT", &data), png_chunk(b"IEND", b"")].concat()
}

/// Start offsets of the JPEG frame headers (SOF markers) in `bytes`.
pub fn frame_headers(bytes: &[u8]) -> Vec<usize> {
    bytes
        .windows(2)
        .enumerate()
        .filter(|(_, pair)| pair[0] == 0xFF && matches!(pair[1], 0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF))
        .map(|(at, _)| at)
        .collect()
}

/// A generated JPEG whose frame header claims `width` × `height` (the integration tests'
/// `jpeg_claiming`).
pub fn jpeg_claiming(width: u16, height: u16) -> Result<Vec<u8>, String> {
    let mut jpeg = verger_imagegen::render_jpeg(0, 0, 1).map_err(|e| e.to_string())?;
    let sof = *frame_headers(&jpeg).first().ok_or("no frame header")?;
    jpeg[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
    jpeg[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
    Ok(jpeg)
}

/// `png` with an iCCP chunk (after IHDR) whose profile inflates to `bytes` zero bytes: a
/// decompression bomb in the metadata, read with the header.
pub fn with_icc_bomb(png: &[u8], bytes: usize) -> Vec<u8> {
    let mut data = b"bomb\x00\x00".to_vec();
    data.extend(miniz_oxide::deflate::compress_to_vec_zlib(&vec![0u8; bytes], 1));
    let after_header = PNG_SIGNATURE.len() + 25;
    [&png[..after_header], &png_chunk(b"iCCP", &data), &png[after_header..]].concat()
}

/// Walks the PNG chunks of `bytes` and rewrites each complete chunk's CRC, so that mutations
/// reach the parser instead of stopping at the checksum.
pub fn repair_png_checksums(bytes: &mut [u8]) {
    if !bytes.starts_with(PNG_SIGNATURE) {
        return;
    }
    let mut at = PNG_SIGNATURE.len();
    while at + 12 <= bytes.len() {
        let len = u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize;
        let Some(end) = at.checked_add(12 + len).filter(|end| *end <= bytes.len()) else { return };
        let crc = crc32fast::hash(&bytes[at + 4..end - 4]);
        bytes[end - 4..end].copy_from_slice(&crc.to_be_bytes());
        at = end;
    }
}
