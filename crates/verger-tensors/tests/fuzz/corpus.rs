//! The seed corpus: the kinds of file tests/python/test_bad_inputs.py feeds verger, generated
//! here, plus the few small files in fuzz-corpus/ that the Rust encoders cannot make (CMYK,
//! progressive) and the inputs the fuzzing found. Each seed says what it must give.

use super::images::{encode_jpeg, encode_png, exif_orientation, jpeg_claiming, pixels, png_claiming, with_icc_bomb};
use image::ExtendedColorType;
use std::path::Path;
use std::sync::OnceLock;

/// What a seed must give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// An upright image of this displayed size (written as a tensor, or refused by the
    /// writer because its resize intermediate is over the limit).
    Decodes(u32, u32),
    Empty,
    UnknownFormat,
    TooManyPixels,
    Corrupt(&'static str),
}

#[derive(Debug)]
pub struct Seed {
    pub name: String,
    pub bytes: Vec<u8>,
    pub expect: Expect,
}

/// Bytes of the iCCP bomb's profile: over the fuzzing limits' allowance (decode.rs), far
/// under what the file takes on disk (~250 KB).
pub const ICC_BOMB_BYTES: usize = 256 << 20;

fn corpus_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz-corpus"))
}

/// The seeds, built once per test binary.
pub fn seeds() -> &'static [Seed] {
    static SEEDS: OnceLock<Vec<Seed>> = OnceLock::new();
    SEEDS.get_or_init(|| build().unwrap_or_else(|e| panic!("cannot build the seed corpus: {e}")))
}

fn build() -> Result<Vec<Seed>, String> {
    let mut seeds = Vec::new();
    let mut add = |name: &str, bytes: Vec<u8>, expect| seeds.push(Seed { name: name.to_owned(), bytes, expect });
    let rgb = ExtendedColorType::Rgb8;
    let photo = verger_imagegen::render_jpeg(0, 1, 7).map_err(|e| e.to_string())?;
    let png = encode_png(&pixels(60, 40, 3, 1, 1), 60, 40, rgb, None)?;

    add("photo.jpg", photo.clone(), Expect::Decodes(100, 100));
    add("gray.jpg", encode_jpeg(&pixels(64, 48, 1, 1, 2), 64, 48, ExtendedColorType::L8, 90, None)?, Expect::Decodes(64, 48));
    add("photo.png", png.clone(), Expect::Decodes(60, 40));
    add("gray-alpha.png", encode_png(&pixels(30, 20, 2, 1, 3), 30, 20, ExtendedColorType::La8, None)?, Expect::Decodes(30, 20));
    add("rgba.png", encode_png(&pixels(17, 9, 4, 1, 4), 17, 9, ExtendedColorType::Rgba8, None)?, Expect::Decodes(17, 9));
    add("deep16.png", encode_png(&pixels(20, 12, 3, 2, 5), 20, 12, ExtendedColorType::Rgb16, None)?, Expect::Decodes(20, 12));
    add("gray16.png", encode_png(&pixels(12, 20, 1, 2, 6), 12, 20, ExtendedColorType::L16, None)?, Expect::Decodes(12, 20));
    // EXIF orientation 6 (rotate 90°) turns 120×80 into 80×120, 8 (rotate 270°) 30×20 into
    // 20×30; 2 (mirror) keeps the size.
    let rotated = encode_jpeg(&pixels(120, 80, 3, 1, 7), 120, 80, rgb, 90, Some(exif_orientation(6)))?;
    add("rotated-6.jpg", rotated, Expect::Decodes(80, 120));
    add("mirrored-2.jpg", encode_jpeg(&pixels(40, 30, 3, 1, 8), 40, 30, rgb, 80, Some(exif_orientation(2)))?, Expect::Decodes(40, 30));
    add("rotated-8.png", encode_png(&pixels(30, 20, 3, 1, 9), 30, 20, rgb, Some(exif_orientation(8)))?, Expect::Decodes(20, 30));
    add("noise-500.jpg", encode_jpeg(&pixels(500, 500, 3, 1, 10), 500, 500, rgb, 90, None)?, Expect::Decodes(500, 500));
    add("truncated.jpg", photo[..photo.len() / 2].to_vec(), Expect::Corrupt("JPEG"));
    add("truncated.png", png[..png.len() / 2].to_vec(), Expect::Corrupt("PNG"));
    add("empty.jpg", Vec::new(), Expect::Empty);
    add("text.jpg", b"this is not an image\n".repeat(10), Expect::UnknownFormat);
    add("bomb-50000.png", png_claiming(50_000, 50_000), Expect::TooManyPixels);
    add("bomb-60000.png", png_claiming(60_000, 60_000), Expect::TooManyPixels);
    add("bomb-60000.jpg", jpeg_claiming(60_000, 60_000)?, Expect::TooManyPixels);
    add("bomb-65535.jpg", jpeg_claiming(u16::MAX, u16::MAX)?, Expect::TooManyPixels);
    add("zero-height.jpg", jpeg_claiming(100, 0)?, Expect::Corrupt("JPEG"));
    add("zero-width.png", png_claiming(0, 100), Expect::Corrupt("PNG"));
    // The png crate drops an ICC profile over the decoder's allowance and decodes the pixels.
    add("icc-bomb.png", with_icc_bomb(&png, ICC_BOMB_BYTES), Expect::Decodes(60, 40));
    // 100,000 pixels, but a 224-wide resize goes through 224 × 100,000.
    add(
        "thin-1x100000.png",
        encode_png(&pixels(1, 100_000, 1, 1, 11), 1, 100_000, ExtendedColorType::L8, None)?,
        Expect::Decodes(1, 100_000),
    );

    for (name, expect) in [
        ("cmyk.jpg", Expect::Decodes(32, 24)),
        ("progressive-rotated.jpg", Expect::Decodes(32, 48)),
        ("subsampled-420.jpg", Expect::Decodes(40, 30)),
    ] {
        let path = corpus_dir().join(name);
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        add(name, bytes, expect);
    }
    Ok(seeds)
}
