//! Mergeable first and second moments of feature vectors: the state of the scaler and PCA
//! fits.
//!
//! Rows are folded in blocks: each block is centred on the running mean and its products
//! `XᵀX` are added to the running co-moment by a GEMM-class kernel (faer, lower triangle
//! only), in place. The result is Chan, Golub and LeVeque's pairwise update
//! `M = Mₐ + M_b + δδᵀ·nₐn_b/n`, `δ = mean_b − meanₐ` (see [`Moments::flush`]), which also
//! merges the partial states of different partitions, in any order, without the
//! cancellation that raw sums of squares suffer on large, offset data.

use crate::error::{fit_error, input_error};
use crate::vectors::VectorColumn;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, ListArray};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, UInt64Type};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::Accumulator;
use faer::linalg::matmul::triangular::{BlockStructure, matmul};
use faer::{Accum, Mat, MatRef, Par};
use std::sync::Arc;

/// Rows per block: large enough for the GEMM kernel to run near peak, small enough to keep
/// the block (rows × features × 8 bytes) in cache-friendly megabytes.
const BLOCK_ROWS: usize = 256;

/// Which second moments a fit keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Second {
    /// Per-feature sums of squared deviations: enough for the scaler.
    Diagonal,
    /// The full co-moment matrix (lower triangle): for PCA.
    Full,
}

#[derive(Debug, Clone)]
enum Comoment {
    Diagonal(Vec<f64>),
    Full(Mat<f64>),
}

/// Count, mean and co-moment of the rows seen so far.
#[derive(Debug, Clone)]
pub struct Moments {
    function: &'static str,
    second: Second,
    count: u64,
    mean: Vec<f64>,
    comoment: Option<Comoment>,
    block: Vec<f64>,
    block_rows: usize,
}

impl Moments {
    pub fn new(function: &'static str, second: Second) -> Self {
        Self { function, second, count: 0, mean: Vec::new(), comoment: None, block: Vec::new(), block_rows: 0 }
    }

    /// Rows folded in, after [`Moments::flush`].
    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn dimension(&self) -> usize {
        self.mean.len()
    }

    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// Per-feature sums of squared deviations from the mean.
    pub fn diagonal(&self) -> Vec<f64> {
        match &self.comoment {
            Some(Comoment::Diagonal(d)) => d.clone(),
            Some(Comoment::Full(m)) => (0..m.nrows()).map(|i| m[(i, i)]).collect(),
            None => vec![0.0; self.mean.len()],
        }
    }

    /// The co-moment matrix; only its lower triangle is meaningful (see [`lower_column`]).
    /// `None` for a diagonal-only state or before any row.
    pub fn full(&self) -> Option<&Mat<f64>> {
        match &self.comoment {
            Some(Comoment::Full(m)) => Some(m),
            _ => None,
        }
    }

    fn set_dimension(&mut self, dimension: usize) -> Result<()> {
        if self.comoment.is_none() {
            self.mean = vec![0.0; dimension];
            self.comoment = Some(match self.second {
                Second::Diagonal => Comoment::Diagonal(vec![0.0; dimension]),
                Second::Full => Comoment::Full(Mat::zeros(dimension, dimension)),
            });
            return Ok(());
        }
        if dimension != self.mean.len() {
            return Err(input_error(
                self.function,
                format!("all vectors must have the same length; found {} and {dimension}", self.mean.len()),
            ));
        }
        Ok(())
    }

    /// Folds the non-NULL rows of `column` in.
    pub fn update(&mut self, column: &VectorColumn<'_>) -> Result<()> {
        for row in 0..column.len() {
            let Some(vector) = column.get(row)? else { continue };
            self.set_dimension(vector.len())?;
            let d = self.mean.len();
            if self.block.len() < BLOCK_ROWS * d {
                self.block.resize(BLOCK_ROWS * d, 0.0);
            }
            let start = self.block_rows * d;
            vector.write_f64(&mut self.block[start..start + d]);
            self.block_rows += 1;
            if self.block_rows == BLOCK_ROWS {
                self.flush();
            }
        }
        Ok(())
    }

    /// Folds the rows buffered in the current block into the state, in place: the rows are
    /// centred on a reference `r` — the running mean `μₐ`, or the block's first row when the
    /// state is empty — and their products added to the co-moment, then the shift is taken
    /// back out. With `δ = μ_b − r = Σ(x − r)/n_b`, Chan et al.'s `Mₐ + C_b + δδᵀ·nₐn_b/n`
    /// equals `Mₐ + Σ(x − r)(x − r)ᵀ − δδᵀ·n_b²/n`: no block matrix to allocate, zero and add
    /// (a d × d matrix per block would be 13 MB at d = 1280). Taking the mean as an offset
    /// from a row, never as `Σx/n_b`, keeps a constant feature's mean exactly its value and
    /// its co-moment exactly 0, however the rows are split (Spark's std is then exactly 0).
    pub fn flush(&mut self) {
        let rows = self.block_rows;
        if rows == 0 {
            return;
        }
        self.block_rows = 0;
        let d = self.mean.len();
        let block = &mut self.block[..rows * d];
        if self.count == 0 {
            self.mean.copy_from_slice(&block[..d]);
        }
        let mut delta = vec![0.0; d];
        for row in block.chunks_exact_mut(d) {
            row.iter_mut().zip(&self.mean).for_each(|(x, m)| *x -= m);
            delta.iter_mut().zip(&*row).for_each(|(s, x)| *s += x);
        }
        let (na, nb) = (self.count as f64, rows as f64);
        let n = na + nb;
        delta.iter_mut().for_each(|s| *s /= nb);
        let correction = -nb * nb / n;
        match &mut self.comoment {
            Some(Comoment::Diagonal(diagonal)) => {
                for row in block.chunks_exact(d) {
                    diagonal.iter_mut().zip(row).for_each(|(s, x)| *s += x * x);
                }
                diagonal.iter_mut().zip(&delta).for_each(|(s, dx)| *s += correction * dx * dx);
            }
            Some(Comoment::Full(comoment)) => {
                let centred = MatRef::from_row_major_slice(&*block, rows, d);
                syrk_lower(comoment, centred);
                rank_one_lower(comoment, &delta, correction);
            }
            None => {}
        }
        self.mean.iter_mut().zip(&delta).for_each(|(m, dx)| *m += dx * nb / n);
        self.count += rows as u64;
    }

    /// Chan et al.'s pairwise merge of `other` into `self`. Checked before anything moves:
    /// a state of the other kind (diagonal or full) or of another dimension is an error, and
    /// `self` is left as it was.
    fn combine(&mut self, other: Moments) -> Result<()> {
        if other.count == 0 {
            return Ok(());
        }
        self.check_mergeable(&other)?;
        if self.count == 0 {
            self.count = other.count;
            self.mean = other.mean;
            self.comoment = other.comoment;
            return Ok(());
        }
        let (delta, weight) = self.shift_mean(other.count, &other.mean);
        match (&mut self.comoment, other.comoment) {
            (Some(Comoment::Diagonal(a)), Some(Comoment::Diagonal(b))) => {
                for ((a, b), d) in a.iter_mut().zip(b).zip(&delta) {
                    *a += b + d * d * weight;
                }
            }
            (Some(Comoment::Full(a)), Some(Comoment::Full(b))) => {
                for j in 0..a.ncols() {
                    lower_column_mut(a, j).iter_mut().zip(lower_column(&b, j)).for_each(|(a, b)| *a += b);
                }
                rank_one_lower(a, &delta, weight);
            }
            // Ruled out by `check_mergeable`.
            _ => return Err(fit_error(self.function, "internal: partial states of different kinds passed the merge check")),
        }
        Ok(())
    }

    /// `other` (not empty) has this fit's kind of co-moment and, once `self` holds rows, the
    /// same kind and dimension as `self`.
    fn check_mergeable(&self, other: &Moments) -> Result<()> {
        let d = other.mean.len();
        let consistent = match (&other.comoment, self.second) {
            (Some(Comoment::Diagonal(v)), Second::Diagonal) => v.len() == d,
            (Some(Comoment::Full(m)), Second::Full) => m.nrows() == d && m.ncols() == d,
            _ => false,
        };
        let same_kind = self.count == 0 || kind(&self.comoment) == kind(&other.comoment);
        if !consistent || !same_kind {
            return Err(fit_error(
                self.function,
                format!(
                    "a {} partial state of {d} features cannot merge into a {} one of {} (this fit keeps {} co-moments)",
                    kind(&other.comoment),
                    kind(&self.comoment),
                    self.mean.len(),
                    second_name(self.second)
                ),
            ));
        }
        if self.count > 0 && d != self.mean.len() {
            return Err(input_error(self.function, format!("all vectors must have the same length; found {} and {d}", self.mean.len())));
        }
        Ok(())
    }

    /// Moves the count and mean to those of `self` merged with `count` rows of mean `mean`;
    /// returns `δ = mean − meanₐ` and the weight `nₐn_b/n` of the co-moment's correction.
    fn shift_mean(&mut self, count: u64, mean: &[f64]) -> (Vec<f64>, f64) {
        let (na, nb) = (self.count as f64, count as f64);
        let n = na + nb;
        let delta: Vec<f64> = mean.iter().zip(&self.mean).map(|(b, a)| b - a).collect();
        self.mean.iter_mut().zip(&delta).for_each(|(m, d)| *m += d * nb / n);
        self.count += count;
        (delta, na * nb / n)
    }

    /// Merges another partial state (from [`Moments::state`]) in.
    pub fn merge(&mut self, other: Moments) -> Result<()> {
        if other.count == 0 {
            return Ok(());
        }
        // Nothing folded in yet: adopt `other` as it is, rather than allocate a zero
        // co-moment (13 MB at d = 1280) only to replace it.
        if self.comoment.is_none() {
            return self.combine(other);
        }
        self.set_dimension(other.mean.len())?;
        self.flush();
        self.combine(other)
    }

    /// Merges a full partial state given as its packed lower triangle (column by column)
    /// straight into the co-moment, without unpacking it into a matrix first.
    fn merge_packed(&mut self, count: u64, mean: Vec<f64>, packed: &[f64]) -> Result<()> {
        let d = mean.len();
        // Nothing folded in yet: the state becomes the co-moment (see `merge`).
        if self.comoment.is_none() {
            let comoment = Some(Comoment::Full(unpack_lower(packed, d)));
            return self.merge(Moments {
                function: self.function,
                second: self.second,
                count,
                mean,
                comoment,
                block: Vec::new(),
                block_rows: 0,
            });
        }
        // Checked before the count and mean move.
        if !matches!(self.comoment, Some(Comoment::Full(_))) {
            return Err(fit_error(self.function, "a full partial state cannot merge into a diagonal one"));
        }
        self.set_dimension(d)?;
        self.flush();
        let (delta, weight) = self.shift_mean(count, &mean);
        let Some(Comoment::Full(comoment)) = &mut self.comoment else {
            return Err(fit_error(self.function, "a full partial state cannot merge into a diagonal one"));
        };
        for (j, column) in packed_columns(packed, d).enumerate() {
            lower_column_mut(comoment, j).iter_mut().zip(column).for_each(|(a, b)| *a += b);
        }
        rank_one_lower(comoment, &delta, weight);
        Ok(())
    }

    /// The state's Arrow fields: `count`, `mean`, `comoment` (packed lower triangle,
    /// column by column, or the diagonal).
    pub fn state_fields(prefix: &str) -> Vec<Field> {
        let list = DataType::List(Arc::new(Field::new_list_field(DataType::Float64, true)));
        vec![
            Field::new(format!("{prefix}[count]"), DataType::UInt64, false),
            Field::new(format!("{prefix}[mean]"), list.clone(), false),
            Field::new(format!("{prefix}[comoment]"), list, false),
        ]
    }

    pub fn state(&mut self) -> Vec<ScalarValue> {
        self.flush();
        let packed: Vec<f64> = match &self.comoment {
            None => Vec::new(),
            Some(Comoment::Diagonal(d)) => d.clone(),
            Some(Comoment::Full(m)) => {
                let d = m.nrows();
                let mut packed = Vec::with_capacity(d * (d + 1) / 2);
                for j in 0..d {
                    packed.extend_from_slice(lower_column(m, j));
                }
                packed
            }
        };
        vec![ScalarValue::UInt64(Some(self.count)), float_list(self.mean.clone()), float_list(packed)]
    }

    /// Partial states, one per row of `states` (as [`Moments::state`] wrote them).
    pub fn merge_states(&mut self, states: &[ArrayRef]) -> Result<()> {
        let [counts, means, comoments] = states else {
            return Err(fit_error(self.function, format!("a partial state has 3 columns, got {}", states.len())));
        };
        let counts = counts.as_primitive::<UInt64Type>();
        let means = means.as_list::<i32>();
        let comoments = comoments.as_list::<i32>();
        for row in 0..counts.len() {
            let count = counts.value(row);
            if counts.is_null(row) || count == 0 {
                continue;
            }
            let mean = means.value(row);
            let mean = mean.as_primitive::<Float64Type>().values().to_vec();
            let packed = comoments.value(row);
            let packed = packed.as_primitive::<Float64Type>().values();
            let d = mean.len();
            match self.second {
                Second::Diagonal if packed.len() == d => {
                    let comoment = Some(Comoment::Diagonal(packed.to_vec()));
                    self.merge(Moments {
                        function: self.function,
                        second: self.second,
                        count,
                        mean,
                        comoment,
                        block: Vec::new(),
                        block_rows: 0,
                    })?;
                }
                Second::Full if packed.len() == d * (d + 1) / 2 => self.merge_packed(count, mean, packed)?,
                _ => return Err(fit_error(self.function, format!("a partial state has {} co-moments for {d} features", packed.len()))),
            }
        }
        Ok(())
    }

    /// Bytes held, for DataFusion's memory accounting.
    pub fn size(&self) -> usize {
        let comoment = match &self.comoment {
            Some(Comoment::Full(m)) => m.nrows() * m.ncols(),
            Some(Comoment::Diagonal(d)) => d.len(),
            None => 0,
        };
        std::mem::size_of::<Self>() + 8 * (self.mean.capacity() + self.block.capacity() + comoment)
    }
}

fn kind(comoment: &Option<Comoment>) -> &'static str {
    match comoment {
        Some(Comoment::Diagonal(_)) => "diagonal",
        Some(Comoment::Full(_)) => "full",
        None => "empty",
    }
}

fn second_name(second: Second) -> &'static str {
    match second {
        Second::Diagonal => "diagonal",
        Second::Full => "full",
    }
}

/// How a fit turns its merged moments (never empty) into a model value.
pub trait FitFinish: std::fmt::Debug + Send + Sync + 'static {
    fn finish(&self, function: &'static str, moments: &mut Moments) -> Result<ScalarValue>;
}

/// The accumulator of every fit: rows and partial states go into [`Moments`]; the fit's
/// [`FitFinish`] makes the model. No row at all is an error, as in Spark.
#[derive(Debug)]
pub struct FitAccumulator<F> {
    function: &'static str,
    moments: Moments,
    finish: F,
}

impl<F: FitFinish> FitAccumulator<F> {
    pub fn new(function: &'static str, second: Second, finish: F) -> Self {
        Self { function, moments: Moments::new(function, second), finish }
    }
}

impl<F: FitFinish> Accumulator for FitAccumulator<F> {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let Some(features) = values.first() else { return Ok(()) };
        self.moments.update(&VectorColumn::try_new(self.function, features)?)
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.moments.merge_states(states)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(self.moments.state())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        self.moments.flush();
        if self.moments.count() == 0 {
            return Err(fit_error(self.function, "no rows to fit: the input is empty or all its vectors are NULL"));
        }
        self.finish.finish(self.function, &mut self.moments)
    }

    fn size(&self) -> usize {
        self.moments.size()
    }
}

/// The columns of a packed lower triangle of order `d` (as [`Moments::state`] writes it):
/// column `j` holds rows `j..d`. The caller has checked its length, d(d + 1)/2.
fn packed_columns(packed: &[f64], d: usize) -> impl Iterator<Item = &[f64]> {
    (0..d).scan(packed, move |rest, j| {
        let (column, after) = rest.split_at((d - j).min(rest.len()));
        *rest = after;
        Some(column)
    })
}

/// The d × d matrix whose lower triangle is `packed` (column by column), zeros above.
fn unpack_lower(packed: &[f64], d: usize) -> Mat<f64> {
    let mut m = Mat::<f64>::zeros(d, d);
    for (j, column) in packed_columns(packed, d).enumerate() {
        lower_column_mut(&mut m, j).copy_from_slice(column);
    }
    m
}

/// Column `j` of the lower triangle of `m` (rows `j..`): an owned faer matrix stores its
/// columns contiguously, so the triangle is copied and added a slice at a time.
pub(crate) fn lower_column(m: &Mat<f64>, j: usize) -> &[f64] {
    &m.col_as_slice(j)[j..]
}

pub(crate) fn lower_column_mut(m: &mut Mat<f64>, j: usize) -> &mut [f64] {
    &mut m.col_as_slice_mut(j)[j..]
}

/// `product += centredᵀ·centred`, lower triangle only.
fn syrk_lower(product: &mut Mat<f64>, centred: MatRef<'_, f64>) {
    matmul(
        product.as_mut(),
        BlockStructure::TriangularLower,
        Accum::Add,
        centred.transpose(),
        BlockStructure::Rectangular,
        centred,
        BlockStructure::Rectangular,
        1.0,
        Par::Seq,
    );
}

/// `product += weight·δδᵀ`, lower triangle only.
fn rank_one_lower(product: &mut Mat<f64>, delta: &[f64], weight: f64) {
    let column = MatRef::from_column_major_slice(delta, delta.len(), 1);
    matmul(
        product.as_mut(),
        BlockStructure::TriangularLower,
        Accum::Add,
        column,
        BlockStructure::Rectangular,
        column.transpose(),
        BlockStructure::Rectangular,
        weight,
        Par::Seq,
    );
}

/// A `LIST<DOUBLE>` scalar.
pub fn float_list(values: Vec<f64>) -> ScalarValue {
    let len = values.len();
    let values: ArrayRef = Arc::new(Float64Array::from(values));
    let list = ListArray::new(Arc::new(Field::new_list_field(DataType::Float64, true)), OffsetBuffer::from_lengths([len]), values, None);
    ScalarValue::List(Arc::new(list))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{FixedSizeListArray, Float32Array};

    fn column(rows: &[Vec<f32>]) -> ArrayRef {
        let d = rows[0].len();
        let values: Vec<f32> = rows.iter().flatten().copied().collect();
        Arc::new(FixedSizeListArray::new(
            Arc::new(Field::new_list_field(DataType::Float32, true)),
            d as i32,
            Arc::new(Float32Array::from(values)),
            None,
        ))
    }

    fn naive(rows: &[Vec<f32>]) -> (Vec<f64>, Vec<Vec<f64>>) {
        let n = rows.len() as f64;
        let d = rows[0].len();
        let mean: Vec<f64> = (0..d).map(|j| rows.iter().map(|r| f64::from(r[j])).sum::<f64>() / n).collect();
        let m = (0..d)
            .map(|i| (0..d).map(|j| rows.iter().map(|r| (f64::from(r[i]) - mean[i]) * (f64::from(r[j]) - mean[j])).sum()).collect())
            .collect();
        (mean, m)
    }

    #[test]
    fn blocks_and_merges_match_a_two_pass_computation() -> Result<()> {
        let rows: Vec<Vec<f32>> =
            (0..700).map(|i| (0..5).map(|j| 1000.0 + ((i * 7 + j * 13) % 17) as f32 * 0.25 + j as f32).collect()).collect();
        let (mean, m) = naive(&rows);
        // Three partitions of uneven size, merged out of order.
        let mut parts = Vec::new();
        for chunk in [&rows[..10], &rows[10..600], &rows[600..]] {
            let array = column(chunk);
            let mut part = Moments::new("test", Second::Full);
            part.update(&VectorColumn::try_new("test", &array)?)?;
            let state: Vec<ArrayRef> = part.state().iter().map(|s| s.to_array()).collect::<Result<_>>()?;
            parts.push(state);
        }
        let mut merged = Moments::new("test", Second::Full);
        for state in parts.iter().rev() {
            merged.merge_states(state)?;
        }
        // Rows of its own still in the block when the other partitions' states arrive.
        let mut mixed = Moments::new("test", Second::Full);
        mixed.update(&VectorColumn::try_new("test", &column(&rows[..10]))?)?;
        for state in &parts[1..] {
            mixed.merge_states(state)?;
        }
        for merged in [&merged, &mixed] {
            assert_eq!(merged.count(), 700);
            for (ours, theirs) in merged.mean().iter().zip(&mean) {
                assert!((ours - theirs).abs() < 1e-9 * theirs.abs());
            }
            let full = merged.full().ok_or_else(|| fit_error("test", "no matrix"))?;
            for i in 0..5 {
                for j in 0..=i {
                    assert!((full[(i, j)] - m[i][j]).abs() < 1e-9 * m[i][i].abs().max(1.0), "{i},{j}: {} vs {}", full[(i, j)], m[i][j]);
                }
            }
        }
        // A state of another dimension is refused, not added.
        let mut other = Moments::new("test", Second::Full);
        other.update(&VectorColumn::try_new("test", &column(&[vec![1.0, 2.0], vec![3.0, 5.0]]))?)?;
        let other: Vec<ArrayRef> = other.state().iter().map(|s| s.to_array()).collect::<Result<_>>()?;
        let refused = mixed.merge_states(&other).map_err(|e| e.to_string());
        assert!(refused.as_ref().is_err_and(|e| e.contains("same length")), "{refused:?}");
        Ok(())
    }

    #[test]
    fn a_state_of_the_other_kind_is_refused_and_changes_nothing() -> Result<()> {
        let rows = [vec![1.0, 2.0, 4.0], vec![3.0, 5.0, 7.0], vec![0.5, 1.5, 9.0]];
        let fed = |second: Second, rows: &[Vec<f32>]| -> Result<Moments> {
            let mut moments = Moments::new("test", second);
            moments.update(&VectorColumn::try_new("test", &column(rows))?)?;
            moments.flush();
            Ok(moments)
        };
        let mut full = fed(Second::Full, &rows)?;
        let before = (full.count(), full.mean().to_vec(), full.full().cloned());
        let refused = full.merge(fed(Second::Diagonal, &rows[..2])?).map_err(|e| e.to_string());
        assert!(refused.as_ref().is_err_and(|e| e.contains("a diagonal partial state")), "{refused:?}");
        assert_eq!((full.count(), full.mean().to_vec(), full.full().cloned()), before, "the refused merge moved the state");

        let mut diagonal = fed(Second::Diagonal, &rows)?;
        let before = (diagonal.count(), diagonal.mean().to_vec(), diagonal.diagonal());
        assert!(diagonal.merge(fed(Second::Full, &rows[..2])?).is_err());
        assert_eq!((diagonal.count(), diagonal.mean().to_vec(), diagonal.diagonal()), before, "the refused merge moved the state");

        // An empty accumulator does not adopt a state of the other kind either.
        let mut empty = Moments::new("test", Second::Full);
        assert!(empty.merge(fed(Second::Diagonal, &rows)?).is_err());
        assert_eq!((empty.count(), empty.full().is_none()), (0, true));
        // A state with no co-moment but rows (impossible from `state`) is refused too.
        let mut hollow = fed(Second::Full, &rows)?;
        hollow.comoment = None;
        assert!(fed(Second::Full, &rows)?.merge(hollow).is_err());
        Ok(())
    }
}
