//! Deterministic Fruits-360-like test images: 100×100 JPEGs of a fruit-like shape on white,
//! one directory per label (`Apple Braeburn/0_100.jpg`, …), with per-image rotation, scale
//! and position jitter. The same `(labels, per_label, seed)` always gives the same bytes.

mod shapes;

use image::codecs::jpeg::JpegEncoder;
use image::{Rgb, RgbImage};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use shapes::{FRUITS, Fruit};
use std::path::{Path, PathBuf};

/// Side of every generated image, as in Fruits-360.
pub const IMAGE_SIZE: u32 = 100;
const JPEG_QUALITY: u8 = 90;
/// Samples per pixel side, for anti-aliased edges.
const SUPERSAMPLING: u32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("--labels must be at least 1")]
    NoLabels,
    #[error("could not write {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("could not encode {path}: {source}")]
    Encode { path: PathBuf, source: image::ImageError },
}

/// What [`generate`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    pub labels: Vec<String>,
    pub files: usize,
    pub bytes: u64,
}

/// The first `count` label names, Fruits-360 style (some with spaces); past the built-in
/// list, names repeat with a variety number (`Apple Braeburn 2`).
pub fn label_names(count: usize) -> Vec<String> {
    (0..count)
        .map(|i| {
            let fruit = &FRUITS[i % FRUITS.len()];
            match i / FRUITS.len() {
                0 => fruit.name.to_owned(),
                round => format!("{} {}", fruit.name, round + 1),
            }
        })
        .collect()
}

/// Writes `labels × per_label` JPEGs under `out/<label>/<i>_100.jpg`.
pub fn generate(out: &Path, labels: usize, per_label: usize, seed: u64) -> Result<Generated, GenerateError> {
    if labels == 0 {
        return Err(GenerateError::NoLabels);
    }
    let names = label_names(labels);
    let mut bytes = 0;
    for (label, name) in names.iter().enumerate() {
        let dir = out.join(name);
        std::fs::create_dir_all(&dir).map_err(|source| GenerateError::Io { path: dir.clone(), source })?;
        for index in 0..per_label {
            let path = dir.join(format!("{index}_100.jpg"));
            let jpeg = render_jpeg(label, index, seed).map_err(|source| GenerateError::Encode { path: path.clone(), source })?;
            bytes += jpeg.len() as u64;
            std::fs::write(&path, jpeg).map_err(|source| GenerateError::Io { path, source })?;
        }
    }
    Ok(Generated { labels: names, files: labels * per_label, bytes })
}

/// The JPEG bytes of image `index` of label number `label`.
pub fn render_jpeg(label: usize, index: usize, seed: u64) -> Result<Vec<u8>, image::ImageError> {
    let image = render(label, index, seed);
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, JPEG_QUALITY).encode_image(&image)?;
    Ok(jpeg)
}

/// Renders image `index` of label number `label`: the label's fruit, jittered.
pub fn render(label: usize, index: usize, seed: u64) -> RgbImage {
    let fruit = &FRUITS[label % FRUITS.len()];
    // Varieties past the built-in list get a shifted hue so that labels stay distinct.
    let variety = (label / FRUITS.len()) as f32;
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ ((label as u64) << 32) ^ index as u64);
    let pose = Pose {
        angle: rng.random_range(0.0..std::f32::consts::TAU),
        scale: rng.random_range(0.85..1.1),
        dx: rng.random_range(-6.0..6.0),
        dy: rng.random_range(-6.0..6.0),
        light: rng.random_range(-0.6..0.6),
    };
    let noise_seed: u64 = rng.random();
    draw(fruit, &pose, variety, noise_seed)
}

/// Per-image jitter.
struct Pose {
    angle: f32,
    scale: f32,
    dx: f32,
    dy: f32,
    /// Direction of the highlight, radians offset.
    light: f32,
}

fn draw(fruit: &Fruit, pose: &Pose, variety: f32, noise_seed: u64) -> RgbImage {
    let mut noise = ChaCha8Rng::seed_from_u64(noise_seed);
    let (sin, cos) = pose.angle.sin_cos();
    let half = IMAGE_SIZE as f32 / 2.0;
    let radius = 38.0 * pose.scale;
    let base = shapes::shift_hue(fruit.color, variety * 0.13);
    let samples = (SUPERSAMPLING * SUPERSAMPLING) as f32;
    RgbImage::from_fn(IMAGE_SIZE, IMAGE_SIZE, |x, y| {
        let mut accumulated = [0.0f32; 3];
        for sy in 0..SUPERSAMPLING {
            for sx in 0..SUPERSAMPLING {
                let px = x as f32 + (sx as f32 + 0.5) / SUPERSAMPLING as f32 - half - pose.dx;
                let py = y as f32 + (sy as f32 + 0.5) / SUPERSAMPLING as f32 - half - pose.dy;
                // Into the fruit's own frame: unrotated, unit radius.
                let u = (cos * px + sin * py) / radius;
                let v = (-sin * px + cos * py) / radius;
                let color = match shapes::sample(fruit, u, v) {
                    Some(shapes::Surface::Skin { shade }) => shapes::lit(base, shade, u, v, pose.light),
                    Some(shapes::Surface::Stem) => fruit.stem,
                    None => [255.0, 255.0, 255.0],
                };
                for c in 0..3 {
                    accumulated[c] += color[c];
                }
            }
        }
        let grain: f32 = noise.random_range(-4.0..4.0);
        let pixel = accumulated.map(|c| (c / samples + if c / samples < 250.0 { grain } else { 0.0 }).clamp(0.0, 255.0) as u8);
        Rgb(pixel)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() -> Result<(), image::ImageError> {
        assert_eq!(render_jpeg(3, 7, 42)?, render_jpeg(3, 7, 42)?);
        assert_ne!(render_jpeg(3, 7, 42)?, render_jpeg(3, 7, 43)?);
        assert_ne!(render_jpeg(3, 7, 42)?, render_jpeg(3, 8, 42)?);
        Ok(())
    }

    #[test]
    fn images_are_fruit_on_white() {
        let image = render(0, 0, 1);
        assert_eq!(image.dimensions(), (IMAGE_SIZE, IMAGE_SIZE));
        let white = image.pixels().filter(|p| p.0.iter().all(|&c| c >= 250)).count();
        let total = (IMAGE_SIZE * IMAGE_SIZE) as usize;
        assert!(white > total / 5 && white < total * 4 / 5, "white pixels: {white}");
    }

    #[test]
    fn label_names_look_like_fruits_360() {
        let names = label_names(FRUITS.len() + 1);
        assert!(names.contains(&"Apple Braeburn".to_owned()));
        assert_eq!(names.last().map(String::as_str), Some(format!("{} 2", FRUITS[0].name).as_str()));
    }

    #[test]
    fn generate_writes_the_tree() -> Result<(), GenerateError> {
        let dir = tempfile::tempdir().map_err(|source| GenerateError::Io { path: "tmp".into(), source })?;
        let generated = generate(dir.path(), 2, 3, 9)?;
        assert_eq!(generated.files, 6);
        assert!(dir.path().join("Apple Braeburn").join("2_100.jpg").is_file());
        assert!(matches!(generate(dir.path(), 0, 1, 1), Err(GenerateError::NoLabels)));
        Ok(())
    }
}
