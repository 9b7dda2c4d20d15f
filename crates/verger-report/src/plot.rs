//! The scatter plot of the first two principal components, one colour per label.

use crate::error::plot_error;
use datafusion::common::Result;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};
use std::sync::Once;

/// Points of one label.
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
}

const WIDTH: u32 = 1200;
const HEIGHT: u32 = 900;

/// Distinct colours (Tableau 10, then darker and lighter variants) for up to 30 labels;
/// more labels reuse them.
fn colour(index: usize) -> RGBColor {
    const BASE: [(u8, u8, u8); 10] = [
        (31, 119, 180),
        (255, 127, 14),
        (44, 160, 44),
        (214, 39, 40),
        (148, 103, 189),
        (140, 86, 75),
        (227, 119, 194),
        (127, 127, 127),
        (188, 189, 34),
        (23, 190, 207),
    ];
    let (r, g, b) = BASE[index % BASE.len()];
    let shade = |c: u8| match (index / BASE.len()) % 3 {
        0 => c,
        1 => (u16::from(c) * 6 / 10) as u8,
        _ => (u16::from(c) + (255 - u16::from(c)) / 2) as u8,
    };
    RGBColor(shade(r), shade(g), shade(b))
}

fn register_fonts() {
    static FONTS: Once = Once::new();
    FONTS.call_once(|| {
        // The font ships inside the binary: no system fonts needed.
        let _ = register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular());
        let _ = register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold());
    });
}

fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if !lo.is_finite() {
        return (-1.0, 1.0);
    }
    let pad = ((hi - lo) * 0.05).max(1e-9);
    (lo - pad, hi + pad)
}

/// Draws the series as a PNG: `title` on top, PC1 across, PC2 up, a legend of labels.
pub fn scatter_png(series: &[Series], title: &str, shown_path: &str) -> Result<Vec<u8>> {
    register_fonts();
    let mut pixels = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    let failed = |e: &dyn std::fmt::Display| plot_error(shown_path, e.to_string());
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| failed(&e))?;
        let (x_range, y_range) = (
            range(series.iter().flat_map(|s| s.points.iter().map(|p| p.0))),
            range(series.iter().flat_map(|s| s.points.iter().map(|p| p.1))),
        );
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 24))
            .margin(20)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d(x_range.0..x_range.1, y_range.0..y_range.1)
            .map_err(|e| failed(&e))?;
        chart
            .configure_mesh()
            .x_desc("PC1")
            .y_desc("PC2")
            .label_style(("sans-serif", 16))
            .axis_desc_style(("sans-serif", 18))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(|e| failed(&e))?;
        for (index, one) in series.iter().enumerate() {
            let color = colour(index);
            chart
                .draw_series(one.points.iter().map(|&(x, y)| Circle::new((x, y), 4, color.mix(0.75).filled())))
                .map_err(|e| failed(&e))?
                .label(format!("{} ({})", one.label, one.points.len()))
                .legend(move |(x, y)| Circle::new((x + 8, y), 5, color.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .label_font(("sans-serif", 16))
            .draw()
            .map_err(|e| failed(&e))?;
        root.present().map_err(|e| failed(&e))?;
    }
    let image =
        image::RgbImage::from_raw(WIDTH, HEIGHT, pixels).ok_or_else(|| plot_error(shown_path, "the plot buffer has the wrong size"))?;
    let mut png = std::io::Cursor::new(Vec::new());
    image.write_to(&mut png, image::ImageFormat::Png).map_err(|e| failed(&e))?;
    Ok(png.into_inner())
}
