//! Random inputs for the fits: feature vectors of every shape the fits meet (constant,
//! offset, tied, outlying features; NULL rows; f32 and f64 elements; fixed and variable
//! lists) and random ways of splitting them into partitions and batches.

use datafusion::arrow::array::{ArrayRef, FixedSizeListArray, Float32Array, Float64Array, ListArray};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::arrow::datatypes::{DataType, Field};
use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

/// How a feature's values are drawn.
#[derive(Debug, Clone, Copy)]
pub enum Feature {
    /// Every row holds this value: its mean is exactly the value and its variance exactly 0.
    Constant(f64),
    /// `offset + scale·u`, u uniform in [−1, 1]: large offsets over small spreads are where
    /// raw sums of squares cancel.
    Noisy { offset: f64, scale: f64 },
    /// `offset + step·i` for i in 0..levels: many ties.
    Levels { offset: f64, step: f64, levels: u32 },
    /// Mostly `scale·u`, rarely `±outlier`.
    Outliers { scale: f64, outlier: f64 },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Element {
    F32,
    F64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Layout {
    /// `FixedSizeList`: the type fixes the length.
    Fixed,
    /// `List`: each row has its own length, so a wrong one is possible.
    Variable,
}

/// One random input: rows of `dimension` values (already rounded to `element`), NULL rows
/// as `None`.
#[derive(Debug, Clone)]
pub struct Case {
    pub dimension: usize,
    pub features: Vec<Feature>,
    pub rows: Vec<Option<Vec<f64>>>,
    pub element: Element,
    pub layout: Layout,
}

impl Case {
    pub fn generate(rng: &mut ChaCha8Rng) -> Self {
        let dimension = rng.random_range(1..=8);
        let element = if rng.random_bool(0.5) { Element::F32 } else { Element::F64 };
        let layout = if rng.random_bool(0.5) { Layout::Fixed } else { Layout::Variable };
        let features: Vec<Feature> = (0..dimension).map(|_| feature(rng, element)).collect();
        // Row counts around the fold's block of 256 rows, and small ones (1 and 2 rows are
        // the edge cases of the sample variance and of PCA).
        let count = match rng.random_range(0..10) {
            0 => rng.random_range(1..=3),
            1 => *[255, 256, 257, 511, 512, 513].choose(rng).unwrap_or(&256),
            _ => rng.random_range(1..=700),
        };
        let null_share = if rng.random_bool(0.3) { rng.random_range(0.0..0.4) } else { 0.0 };
        let rows = (0..count)
            .map(|_| {
                if rng.random_bool(null_share) {
                    return None;
                }
                Some(features.iter().map(|f| round(draw(rng, *f), element)).collect())
            })
            .collect();
        Self { dimension, features, rows, element, layout }
    }

    pub fn is_constant(&self, feature: usize) -> bool {
        matches!(self.features[feature], Feature::Constant(_))
    }

    /// The non-NULL rows.
    pub fn present(&self) -> Vec<&[f64]> {
        self.rows.iter().flatten().map(Vec::as_slice).collect()
    }

    /// The rows at `indices` as one Arrow column of this case's type.
    pub fn column(&self, indices: &[usize]) -> ArrayRef {
        let rows: Vec<Option<&Vec<f64>>> = indices.iter().map(|&i| self.rows[i].as_ref()).collect();
        let nulls = NullBuffer::from(rows.iter().map(Option::is_some).collect::<Vec<_>>());
        let lengths: Vec<usize> = rows.iter().map(|row| row.map_or(0, Vec::len)).collect();
        let values: Vec<f64> = match self.layout {
            // A fixed-size NULL row still occupies `dimension` slots.
            Layout::Fixed => rows.iter().flat_map(|row| row.cloned().unwrap_or_else(|| vec![0.0; self.dimension])).collect(),
            Layout::Variable => rows.iter().flat_map(|row| row.cloned().unwrap_or_default()).collect(),
        };
        let (item, values): (DataType, ArrayRef) = match self.element {
            Element::F32 => (DataType::Float32, Arc::new(values.iter().map(|v| *v as f32).collect::<Float32Array>())),
            Element::F64 => (DataType::Float64, Arc::new(Float64Array::from(values))),
        };
        let field = Arc::new(Field::new_list_field(item, true));
        match self.layout {
            Layout::Fixed => Arc::new(FixedSizeListArray::new(field, self.dimension as i32, values, Some(nulls))),
            Layout::Variable => Arc::new(ListArray::new(field, OffsetBuffer::from_lengths(lengths), values, Some(nulls))),
        }
    }

    /// Makes one of two or more non-NULL rows one value longer than the others, where the type
    /// allows it.
    /// Returns whether it did.
    pub fn lengthen_a_row(&mut self, rng: &mut ChaCha8Rng) -> bool {
        let present: Vec<usize> = (0..self.rows.len()).filter(|&i| self.rows[i].is_some()).collect();
        // One row alone has no other length to disagree with.
        if present.len() < 2 {
            return false;
        }
        let (Layout::Variable, Some(&row)) = (self.layout, present.choose(rng)) else { return false };
        if let Some(values) = &mut self.rows[row] {
            values.push(1.0);
        }
        true
    }
}

fn magnitude(rng: &mut ChaCha8Rng, low: i32, high: i32) -> f64 {
    let exponent = rng.random_range(low..=high);
    10f64.powi(exponent) * rng.random_range(0.1..1.0)
}

fn signed(rng: &mut ChaCha8Rng, value: f64) -> f64 {
    if rng.random_bool(0.5) { value } else { -value }
}

fn feature(rng: &mut ChaCha8Rng, element: Element) -> Feature {
    match rng.random_range(0..4) {
        0 => {
            // Any value: zero, integers, values with every mantissa bit set, huge and tiny.
            let value = match rng.random_range(0..5) {
                0 => 0.0,
                1 => f64::from(rng.random_range(-5..=5)),
                2 => {
                    let third = 1.0 / 3.0 * 10f64.powi(rng.random_range(-3..=3));
                    signed(rng, third)
                }
                3 => {
                    let value = magnitude(rng, -8, 8);
                    signed(rng, value)
                }
                _ => {
                    let value = rng.random::<f64>() * 1e6;
                    signed(rng, value)
                }
            };
            Feature::Constant(round(value, element))
        }
        1 => {
            let offset = magnitude(rng, 0, 5);
            Feature::Noisy { offset: signed(rng, offset), scale: magnitude(rng, -3, 3) }
        }
        2 => {
            let offset = magnitude(rng, 0, 3);
            Feature::Levels { offset: signed(rng, offset), step: magnitude(rng, -2, 1), levels: rng.random_range(2..=6) }
        }
        _ => Feature::Outliers { scale: magnitude(rng, -1, 1), outlier: magnitude(rng, 2, 4) },
    }
}

fn draw(rng: &mut ChaCha8Rng, feature: Feature) -> f64 {
    match feature {
        Feature::Constant(value) => value,
        Feature::Noisy { offset, scale } => offset + scale * rng.random_range(-1.0..=1.0),
        Feature::Levels { offset, step, levels } => offset + step * f64::from(rng.random_range(0..levels)),
        Feature::Outliers { scale, outlier } => {
            if rng.random_bool(0.02) {
                if rng.random_bool(0.5) { outlier } else { -outlier }
            } else {
                scale * rng.random_range(-1.0..=1.0)
            }
        }
    }
}

/// The value as the column stores it: f32 elements are rounded once, here, so that the
/// reference sees the same numbers as the fit.
fn round(value: f64, element: Element) -> f64 {
    match element {
        Element::F32 => f64::from(value as f32),
        Element::F64 => value,
    }
}

/// A random split of rows `0..count` into partitions (some empty), each fed in random batches.
#[derive(Debug, Clone)]
pub struct Split {
    /// Per partition, its batches of row indices.
    pub partitions: Vec<Vec<Vec<usize>>>,
}

impl Split {
    pub fn generate(rng: &mut ChaCha8Rng, count: usize) -> Self {
        let partitions = rng.random_range(1..=12);
        let mut assigned: Vec<Vec<usize>> = vec![Vec::new(); partitions];
        if rng.random_bool(0.5) {
            // Contiguous ranges, as files and row groups split them.
            let mut cuts: Vec<usize> = (0..partitions - 1).map(|_| rng.random_range(0..=count)).collect();
            cuts.sort_unstable();
            let bounds: Vec<usize> = std::iter::once(0).chain(cuts).chain(std::iter::once(count)).collect();
            for (part, window) in bounds.windows(2).enumerate() {
                assigned[part] = (window[0]..window[1]).collect();
            }
        } else {
            // Scattered, as a hash repartition spreads them.
            for row in 0..count {
                assigned[rng.random_range(0..partitions)].push(row);
            }
        }
        let partitions = assigned
            .into_iter()
            .map(|rows| {
                let mut batches = Vec::new();
                let mut rest = rows.as_slice();
                while !rest.is_empty() {
                    let size = rng.random_range(1..=rest.len().min(300));
                    let (batch, after) = rest.split_at(size);
                    batches.push(batch.to_vec());
                    rest = after;
                }
                batches
            })
            .collect();
        Self { partitions }
    }
}

/// How the partial states of the partitions come together.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Strategy {
    /// One state at a time, in random order, into a fresh accumulator.
    Linear,
    /// All states as the rows of one batch, as DataFusion's final aggregate gets them.
    Stacked,
    /// Random pairs merged into intermediate states until one is left, as a multi-level
    /// exchange (or Ballista's stages) would.
    Tree,
    /// The final accumulator folds one partition's rows itself (still in its block) and then
    /// merges the others.
    Mixed,
}

pub const STRATEGIES: [Strategy; 4] = [Strategy::Linear, Strategy::Stacked, Strategy::Tree, Strategy::Mixed];
