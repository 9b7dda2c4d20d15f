//! The reference the fits are checked against: a two-pass computation with compensated
//! (Neumaier) sums over all rows at once, and the error bounds a one-pass, mergeable f64 fit
//! can be held to.

/// Neumaier's compensated sum.
#[derive(Default, Clone, Copy)]
struct Sum {
    sum: f64,
    compensation: f64,
}

impl Sum {
    fn add(&mut self, value: f64) {
        let total = self.sum + value;
        self.compensation += if self.sum.abs() >= value.abs() { (self.sum - total) + value } else { (value - total) + self.sum };
        self.sum = total;
    }

    fn value(self) -> f64 {
        self.sum + self.compensation
    }
}

/// Count, mean and full co-moment matrix of the rows, two passes.
pub struct Reference {
    pub count: usize,
    pub mean: Vec<f64>,
    /// `comoment[i][j] = Σ (x_i − mean_i)(x_j − mean_j)`.
    pub comoment: Vec<Vec<f64>>,
    /// Per feature: the largest |x| and the range max − min.
    pub magnitude: Vec<f64>,
    pub spread: Vec<f64>,
}

impl Reference {
    pub fn new(rows: &[&[f64]], dimension: usize) -> Self {
        let count = rows.len();
        // Offsets from the first row, summed: exact for a constant feature (Σx/n is not).
        let mean: Vec<f64> = (0..dimension)
            .map(|i| {
                let Some(first) = rows.first().map(|row| row[i]) else { return 0.0 };
                let mut sum = Sum::default();
                rows.iter().for_each(|row| sum.add(row[i] - first));
                first + sum.value() / count as f64
            })
            .collect();
        let comoment = (0..dimension)
            .map(|i| {
                (0..dimension)
                    .map(|j| {
                        let mut sum = Sum::default();
                        rows.iter().for_each(|row| sum.add((row[i] - mean[i]) * (row[j] - mean[j])));
                        sum.value()
                    })
                    .collect()
            })
            .collect();
        let magnitude = (0..dimension).map(|i| rows.iter().map(|row| row[i].abs()).fold(0.0, f64::max)).collect();
        let spread = (0..dimension)
            .map(|i| {
                let (low, high) = rows.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), row| (l.min(row[i]), h.max(row[i])));
                if count == 0 { 0.0 } else { high - low }
            })
            .collect();
        Self { count, mean, comoment, magnitude, spread }
    }

    /// How far a one-pass f64 mean may be from the exact one: rounding of the running sum of
    /// deviations (n·ε·spread) and of the value itself (ε·|x|).
    pub fn mean_bound(&self, i: usize) -> f64 {
        8.0 * f64::EPSILON * (self.magnitude[i] + self.count as f64 * self.spread[i])
    }

    /// How far a merged co-moment may be from the exact one: products of deviations
    /// (n·ε·sᵢsⱼ), and the rounding of the stored means, which enters through the merges'
    /// `δδᵀ·nₐn_b/n` terms (n·ε·(sᵢ|x|ⱼ + |x|ᵢsⱼ)) — the price of any mergeable f64 state
    /// (Spark's summariser pays it too).
    pub fn comoment_bound(&self, i: usize, j: usize) -> f64 {
        let (s, a) = (&self.spread, &self.magnitude);
        32.0 * f64::EPSILON * self.count as f64 * (s[i] * s[j] + s[i] * a[j] + a[i] * s[j])
    }

    /// The Frobenius norm of the co-moment bounds: a bound on the co-moment's error in the
    /// 2-norm, hence (Weyl) on each eigenvalue's.
    pub fn comoment_bound_norm(&self) -> f64 {
        let d = self.mean.len();
        (0..d).flat_map(|i| (0..d).map(move |j| (i, j))).map(|(i, j)| self.comoment_bound(i, j).powi(2)).sum::<f64>().sqrt()
    }

    /// The sample covariance (n − 1).
    pub fn covariance(&self) -> Vec<Vec<f64>> {
        let scale = 1.0 / (self.count.saturating_sub(1)) as f64;
        self.comoment.iter().map(|row| row.iter().map(|m| m * scale).collect()).collect()
    }
}
