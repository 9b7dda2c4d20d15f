//! Property tests of the fits' partial states: whatever the data (constant, offset, tied,
//! outlying features, NULL rows, f32 or f64 elements) and however it is split into
//! partitions, batches and merge orders, the merged moments — and the StandardScaler and
//! PCA models made from them — equal a two-pass reference within the error a mergeable f64
//! fit can be held to; constant features come out exact (mean = the value, std = 0), and a
//! vector of the wrong length fails the fit on every path.
//!
//! `VERGER_PROPERTY_CASES` (default 1,000) sets how many random cases run,
//! `VERGER_PROPERTY_SEED` the seed; a failure names its case, and `VERGER_PROPERTY_CASE`
//! re-runs that one alone.

mod states;

use datafusion::arrow::array::{Array, ArrayRef};
use datafusion::arrow::compute::concat;
use datafusion::common::Result;
use faer::{Mat, Side};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use states::cases::{Case, STRATEGIES, Split, Strategy};
use states::reference::Reference;
use verger_ml::{Components, Moments, ScalerModel, Second, VectorColumn, fit_components};

const FIT: &str = "property_fit";

fn setting(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// What the run covered, and how close to its bounds it came.
#[derive(Default)]
struct Tally {
    cases: usize,
    fits: usize,
    partitions: usize,
    batches: usize,
    refused: usize,
    constant_features: usize,
    /// Largest error over its bound, per quantity.
    worst: [f64; 4],
}

const WORST: [&str; 4] = ["mean", "co-moment", "explained variance", "eigenvector residual"];

impl Tally {
    fn record(&mut self, quantity: usize, error: f64, bound: f64) -> std::result::Result<(), String> {
        let ratio = if bound > 0.0 {
            error / bound
        } else if error == 0.0 {
            0.0
        } else {
            f64::INFINITY
        };
        self.worst[quantity] = self.worst[quantity].max(ratio);
        if ratio <= 1.0 { Ok(()) } else { Err(format!("{}: error {error:e} over the bound {bound:e}", WORST[quantity])) }
    }
}

fn state(moments: &mut Moments) -> Result<Vec<ArrayRef>> {
    moments.state().iter().map(|value| value.to_array()).collect()
}

fn fold(case: &Case, batches: &[Vec<usize>], second: Second) -> Result<Moments> {
    let mut moments = Moments::new(FIT, second);
    for batch in batches {
        let column = case.column(batch);
        moments.update(&VectorColumn::try_new(FIT, &column)?)?;
    }
    Ok(moments)
}

/// The fit of `case` split as `split` and merged by `strategy`.
fn fit(case: &Case, split: &Split, strategy: Strategy, second: Second, rng: &mut ChaCha8Rng) -> Result<Moments> {
    let mut partials = split.partitions.iter().map(|batches| fold(case, batches, second)).collect::<Result<Vec<_>>>()?;
    let mut merged = Moments::new(FIT, second);
    match strategy {
        Strategy::Linear => {
            partials.shuffle(rng);
            for partial in &mut partials {
                merged.merge_states(&state(partial)?)?;
            }
        }
        Strategy::Stacked => {
            let states = partials.iter_mut().map(state).collect::<Result<Vec<_>>>()?;
            let columns = (0..3)
                .map(|c| concat(&states.iter().map(|s| s[c].as_ref()).collect::<Vec<&dyn Array>>()))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            merged.merge_states(&columns)?;
        }
        Strategy::Tree => {
            let mut states = partials.iter_mut().map(state).collect::<Result<Vec<_>>>()?;
            while states.len() > 1 {
                let a = states.swap_remove(rng.random_range(0..states.len()));
                let b = states.swap_remove(rng.random_range(0..states.len()));
                let mut pair = Moments::new(FIT, second);
                pair.merge_states(&a)?;
                pair.merge_states(&b)?;
                states.push(state(&mut pair)?);
            }
            for last in &states {
                merged.merge_states(last)?;
            }
        }
        Strategy::Mixed => {
            let own = rng.random_range(0..partials.len());
            merged = fold(case, &split.partitions[own], second)?;
            partials.swap_remove(own);
            partials.shuffle(rng);
            for partial in &mut partials {
                merged.merge_states(&state(partial)?)?;
            }
        }
    }
    merged.flush();
    Ok(merged)
}

fn check_moments(case: &Case, reference: &Reference, moments: &Moments, tally: &mut Tally) -> std::result::Result<(), String> {
    if moments.count() != reference.count as u64 {
        return Err(format!("count {} where the input has {} non-NULL rows", moments.count(), reference.count));
    }
    if reference.count == 0 {
        return Ok(());
    }
    let d = case.dimension;
    let diagonal = moments.diagonal();
    for i in 0..d {
        let mean = moments.mean()[i];
        if case.is_constant(i) && (mean.to_bits() != reference.mean[i].to_bits() || diagonal[i] != 0.0) {
            return Err(format!(
                "constant feature {i} = {:e}: mean {mean:e}, co-moment {:e} (exactly the value and 0 expected)",
                reference.mean[i], diagonal[i]
            ));
        }
        tally.record(0, (mean - reference.mean[i]).abs(), reference.mean_bound(i)).map_err(|e| format!("feature {i}: {e}"))?;
        let full = moments.full();
        for j in 0..=i {
            let ours = match full {
                Some(m) => m[(i, j)],
                None if i == j => diagonal[i],
                None => continue,
            };
            if (case.is_constant(i) || case.is_constant(j)) && ours != 0.0 {
                return Err(format!("co-moment ({i}, {j}) of a constant feature is {ours:e}, not 0"));
            }
            tally
                .record(1, (ours - reference.comoment[i][j]).abs(), reference.comoment_bound(i, j))
                .map_err(|e| format!("({i}, {j}): {e}"))?;
        }
    }
    Ok(())
}

fn check_scaler(case: &Case, reference: &Reference, moments: &mut Moments) -> std::result::Result<(), String> {
    let model = ScalerModel::from_moments(moments, true, true);
    for (i, (std, factor)) in model.std.iter().zip(model.factors()).enumerate() {
        if (case.is_constant(i) || reference.count < 2) && (*std != 0.0 || factor != 0.0) {
            return Err(format!("feature {i}: std {std:e} and factor {factor:e} where Spark has exactly 0"));
        }
        if reference.count >= 2 {
            let expected = (reference.comoment[i][i] / (reference.count - 1) as f64).sqrt();
            // |a − b| = |a² − b²| / (a + b), a² bounded through the co-moment.
            let bound = reference.comoment_bound(i, i) / (reference.count - 1) as f64 / (std + expected).max(f64::MIN_POSITIVE);
            if (std - expected).abs() > bound {
                return Err(format!("feature {i}: std {std:e}, reference {expected:e}, bound {bound:e}"));
            }
        }
    }
    Ok(())
}

fn check_pca(reference: &Reference, moments: &mut Moments, tally: &mut Tally) -> std::result::Result<(), String> {
    let d = reference.mean.len();
    let model = match fit_components(FIT, moments, Components::Count(d)) {
        Ok(model) => model,
        Err(e) if reference.count < 2 => {
            let wanted = if reference.count == 0 { "no rows" } else { "at least 2 rows" };
            return if e.to_string().contains(wanted) { Ok(()) } else { Err(format!("{} rows: unexpected error {e}", reference.count)) };
        }
        Err(e) => return Err(format!("PCA failed: {e}")),
    };
    if reference.count < 2 {
        return Err(format!("PCA of {} rows did not fail", reference.count));
    }
    let covariance = reference.covariance();
    let matrix = Mat::<f64>::from_fn(d, d, |i, j| covariance[i][j]);
    let mut eigenvalues = matrix.self_adjoint_eigenvalues(Side::Lower).map_err(|e| format!("reference eigenvalues: {e:?}"))?;
    eigenvalues.reverse();
    let total: f64 = eigenvalues.iter().map(|v| v.max(0.0)).sum();
    let largest = eigenvalues.first().copied().unwrap_or(0.0).max(0.0);
    let scale = 1.0 / (reference.count - 1) as f64;
    // Weyl: each eigenvalue moves by at most the 2-norm of the covariance's error; plus the
    // solver's own backward error.
    let eigen_bound = reference.comoment_bound_norm() * scale + 64.0 * d as f64 * f64::EPSILON * largest;
    if total == 0.0 {
        return match model.explained_variance.iter().all(|v| *v == 0.0) {
            true => Ok(()),
            false => Err(format!("no variance at all, yet explained variance {:?}", model.explained_variance)),
        };
    }
    for (share, value) in model.explained_variance.iter().zip(&eigenvalues) {
        tally.record(2, (share - value.max(0.0) / total).abs(), 2.0 * eigen_bound / total + 1e-15)?;
    }
    for c in 0..model.k {
        let v = &model.components[c * d..(c + 1) * d];
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        if (norm - 1.0).abs() > 1e-12 * d as f64 {
            return Err(format!("component {c} has norm {norm}"));
        }
        // The residual of the reference covariance on the component: small for an exact
        // eigenvector of a nearby matrix, even where eigenvalues are close or repeated.
        let product: Vec<f64> = (0..d).map(|i| (0..d).map(|j| covariance[i][j] * v[j]).sum()).collect();
        let rayleigh: f64 = product.iter().zip(v).map(|(p, x)| p * x).sum();
        let residual = product.iter().zip(v).map(|(p, x)| (p - rayleigh * x).powi(2)).sum::<f64>().sqrt();
        tally.record(3, residual, 2.0 * eigen_bound + f64::MIN_POSITIVE).map_err(|e| format!("component {c}: {e}"))?;
        // Spark's sign: the largest-magnitude entry positive (where it is unambiguous).
        let mut magnitudes: Vec<f64> = v.iter().map(|x| x.abs()).collect();
        magnitudes.sort_by(|a, b| b.total_cmp(a));
        let pivot = v.iter().copied().fold(0.0f64, |best, x| if x.abs() > best.abs() { x } else { best });
        if (d == 1 || magnitudes[0] - magnitudes[1] > 1e-9) && pivot < 0.0 {
            return Err(format!("component {c}: its largest entry is negative: {v:?}"));
        }
    }
    Ok(())
}

/// One case: every strategy, both kinds of fit.
fn run_case(rng: &mut ChaCha8Rng, tally: &mut Tally) -> std::result::Result<(), String> {
    let mut case = Case::generate(rng);
    let split = Split::generate(rng, case.rows.len());
    tally.cases += 1;
    tally.partitions += split.partitions.len();
    tally.batches += split.partitions.iter().map(Vec::len).sum::<usize>();
    tally.constant_features += (0..case.dimension).filter(|&i| case.is_constant(i)).count();
    let wrong_length = rng.random_bool(0.1) && case.lengthen_a_row(rng);
    let present = case.present();
    let reference = Reference::new(&present, case.dimension);
    for second in [Second::Diagonal, Second::Full] {
        for strategy in STRATEGIES {
            let at = |e: String| format!("{strategy:?} merge of a {second:?} fit: {e}");
            tally.fits += 1;
            let fitted = fit(&case, &split, strategy, second, rng);
            if wrong_length {
                match fitted {
                    Err(e) if e.to_string().contains("same length") => {
                        tally.refused += 1;
                        continue;
                    }
                    Err(e) => return Err(at(format!("a row of the wrong length gave another error: {e}"))),
                    Ok(_) => {
                        return Err(at(format!(
                            "a row of the wrong length was accepted ({} rows present, d = {})",
                            present.len(),
                            case.dimension
                        )));
                    }
                }
            }
            let mut moments = fitted.map_err(|e| at(format!("failed: {e}")))?;
            check_moments(&case, &reference, &moments, tally).map_err(at)?;
            if reference.count > 0 {
                check_scaler(&case, &reference, &mut moments).map_err(at)?;
            }
            if second == Second::Full {
                check_pca(&reference, &mut moments, tally).map_err(at)?;
            }
        }
    }
    Ok(())
}

#[test]
fn any_split_of_any_input_fits_the_same_model() {
    let seed = setting("VERGER_PROPERTY_SEED").unwrap_or(0x7665_7267_6572);
    let cases = setting("VERGER_PROPERTY_CASES").unwrap_or(1_000);
    let only = setting("VERGER_PROPERTY_CASE");
    let started = std::time::Instant::now();
    let mut tally = Tally::default();
    for index in (0..cases).filter(|i| only.is_none_or(|only| only == *i)) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_add(index));
        if let Err(e) = run_case(&mut rng, &mut tally) {
            panic!("case {index} (VERGER_PROPERTY_SEED={seed} VERGER_PROPERTY_CASE={index}): {e}");
        }
    }
    println!(
        "{} cases, {} fits, {} partitions, {} batches, {} constant features, {} fits refused a wrong length, in {:.1} s",
        tally.cases,
        tally.fits,
        tally.partitions,
        tally.batches,
        tally.constant_features,
        tally.refused,
        started.elapsed().as_secs_f64()
    );
    for (name, worst) in WORST.iter().zip(tally.worst) {
        println!("largest {name} error: {:.3} of its bound", worst);
    }
    assert!(tally.cases > 0, "no case ran");
}
