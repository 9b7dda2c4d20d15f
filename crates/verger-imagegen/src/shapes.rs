//! Fruit silhouettes in a unit frame (radius 1 at scale 1) and their shading.

/// How a fruit looks.
pub(crate) struct Fruit {
    pub name: &'static str,
    pub form: Form,
    /// Skin colour, RGB 0–255.
    pub color: [f32; 3],
    pub stem: [f32; 3],
}

pub(crate) enum Form {
    /// An ellipse of this height/width ratio.
    Round { aspect: f32 },
    /// A crescent, like a banana.
    Crescent,
    /// A small lobe on a larger one, like a pear.
    Pear,
    /// Two round fruits side by side, like cherries.
    Pair,
    /// A cone, like a strawberry.
    Cone,
}

const BROWN: [f32; 3] = [110.0, 75.0, 40.0];
const GREEN: [f32; 3] = [70.0, 120.0, 40.0];

pub(crate) const FRUITS: [Fruit; 16] = [
    Fruit { name: "Apple Braeburn", form: Form::Round { aspect: 0.92 }, color: [190.0, 40.0, 35.0], stem: BROWN },
    Fruit { name: "Apple Granny Smith", form: Form::Round { aspect: 0.95 }, color: [120.0, 190.0, 70.0], stem: BROWN },
    Fruit { name: "Apricot", form: Form::Round { aspect: 1.0 }, color: [240.0, 160.0, 60.0], stem: BROWN },
    Fruit { name: "Avocado", form: Form::Pear, color: [60.0, 80.0, 30.0], stem: BROWN },
    Fruit { name: "Banana", form: Form::Crescent, color: [240.0, 210.0, 70.0], stem: BROWN },
    Fruit { name: "Cherry 1", form: Form::Pair, color: [150.0, 15.0, 30.0], stem: GREEN },
    Fruit { name: "Clementine", form: Form::Round { aspect: 0.85 }, color: [245.0, 130.0, 20.0], stem: GREEN },
    Fruit { name: "Kiwi", form: Form::Round { aspect: 0.75 }, color: [130.0, 100.0, 60.0], stem: BROWN },
    Fruit { name: "Lemon", form: Form::Round { aspect: 0.7 }, color: [245.0, 225.0, 60.0], stem: GREEN },
    Fruit { name: "Limes", form: Form::Round { aspect: 0.9 }, color: [90.0, 170.0, 50.0], stem: GREEN },
    Fruit { name: "Mango", form: Form::Round { aspect: 0.68 }, color: [235.0, 150.0, 50.0], stem: GREEN },
    Fruit { name: "Pear", form: Form::Pear, color: [200.0, 200.0, 80.0], stem: BROWN },
    Fruit { name: "Plum", form: Form::Round { aspect: 1.05 }, color: [90.0, 30.0, 80.0], stem: BROWN },
    Fruit { name: "Strawberry", form: Form::Cone, color: [215.0, 30.0, 45.0], stem: GREEN },
    Fruit { name: "Tomato 1", form: Form::Round { aspect: 0.8 }, color: [225.0, 50.0, 30.0], stem: GREEN },
    Fruit { name: "Pomegranate", form: Form::Round { aspect: 0.97 }, color: [170.0, 35.0, 50.0], stem: BROWN },
];

pub(crate) enum Surface {
    /// Skin; `shade` in 0..1 is the distance from the centre of the lobe (for lighting).
    Skin {
        shade: f32,
    },
    Stem,
}

fn ellipse(u: f32, v: f32, cu: f32, cv: f32, ru: f32, rv: f32) -> Option<f32> {
    let d = ((u - cu) / ru).powi(2) + ((v - cv) / rv).powi(2);
    (d <= 1.0).then(|| d.sqrt())
}

/// What covers point `(u, v)` of the fruit's frame, if anything.
pub(crate) fn sample(fruit: &Fruit, u: f32, v: f32) -> Option<Surface> {
    let stem_top = match fruit.form {
        Form::Round { aspect } => -aspect,
        Form::Pear => -1.05,
        Form::Pair => -0.9,
        _ => -1.0,
    };
    if u.abs() < 0.05 && v < stem_top + 0.15 && v > stem_top - 0.18 && !matches!(fruit.form, Form::Crescent) {
        return Some(Surface::Stem);
    }
    let shade = match fruit.form {
        Form::Round { aspect } => ellipse(u, v, 0.0, 0.0, 1.0, aspect),
        Form::Pear => ellipse(u, v, 0.0, 0.3, 0.75, 0.65).or_else(|| ellipse(u, v, 0.0, -0.45, 0.45, 0.5)),
        Form::Pair => ellipse(u, v, -0.45, 0.2, 0.5, 0.5).or_else(|| ellipse(u, v, 0.45, 0.25, 0.5, 0.5)),
        Form::Cone => {
            // Wide at the top (v = -0.7), pointed at the bottom (v = 0.95).
            let t = (v + 0.7) / 1.65;
            let half_width = 0.8 * (1.0 - t).max(0.0).sqrt();
            ((0.0..=1.0).contains(&t) && u.abs() <= half_width).then(|| (u.abs() / half_width.max(1e-3)).max(t * 0.6))
        }
        Form::Crescent => {
            let outer = ellipse(u, v, 0.0, 0.2, 1.0, 0.75);
            let inner = ellipse(u, v, 0.0, 0.55, 0.95, 0.7);
            match (outer, inner) {
                (Some(shade), None) => Some(shade),
                _ => None,
            }
        }
    };
    shade.map(|shade| Surface::Skin { shade })
}

/// Skin colour with a highlight towards the light and darker edges.
pub(crate) fn lit(base: [f32; 3], shade: f32, u: f32, v: f32, light: f32) -> [f32; 3] {
    let (ls, lc) = (light - 0.8).sin_cos();
    let toward_light = (u * lc + v * ls).clamp(-1.0, 1.0);
    let brightness = 1.0 - 0.35 * shade.powi(3) + 0.15 * toward_light;
    base.map(|c| (c * brightness).clamp(0.0, 245.0))
}

/// Rotates the hue of `color` by `turns` of the colour wheel.
pub(crate) fn shift_hue(color: [f32; 3], turns: f32) -> [f32; 3] {
    if turns == 0.0 {
        return color;
    }
    let angle = turns * std::f32::consts::TAU;
    let (s, c) = angle.sin_cos();
    // Rotation about the grey axis.
    let k = (1.0 - c) / 3.0;
    let r = (1.0 / 3.0f32).sqrt() * s;
    let m = [[c + k, k - r, k + r], [k + r, c + k, k - r], [k - r, k + r, c + k]];
    let rotated = [0, 1, 2].map(|i| m[i][0] * color[0] + m[i][1] * color[1] + m[i][2] * color[2]);
    rotated.map(|c| c.clamp(0.0, 245.0))
}
