//! The symmetric eigendecomposition of a covariance, computing only the eigenvectors a PCA
//! keeps.
//!
//! faer's `self_adjoint_eigen` runs three steps: Householder tridiagonalisation, the
//! tridiagonal problem (divide and conquer), then the Householder reflections applied to all
//! n eigenvectors. At n = 1280 the last step is a fifth of the time, yet a PCA keeps k of the
//! n vectors (73 for the Fruits! job). Here the same faer steps run with the same parameters,
//! and the reflections go to the k vectors kept only: each vector gets the same operations.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::evd::{self, ComputeEigenvectors, EvdError, tridiag};
use faer::{Col, Conj, Mat};

/// Decomposes the symmetric matrix whose lower triangle is in `matrix`, which it consumes as
/// the tridiagonalisation's workspace (the strict upper triangle is ignored). `keep` gets
/// every eigenvalue, largest first, and says how many eigenvectors to compute, k (at most n).
/// The result is n × k: column j is the unit eigenvector of the j-th largest eigenvalue.
pub fn top_eigenpairs(mut matrix: Mat<f64>, keep: impl FnOnce(&[f64]) -> usize) -> Result<Mat<f64>, EvdError> {
    let n = matrix.nrows();
    if n == 0 {
        keep(&[]);
        return Ok(Mat::zeros(0, 0));
    }
    let par = faer::get_global_parallelism();
    // The workspace of the whole decomposition covers each step (and k ≤ n vectors).
    let mut workspace = MemBuffer::new(evd::self_adjoint_evd_scratch::<f64>(n, ComputeEigenvectors::Yes, par, Default::default()));
    let stack = MemStack::new(&mut workspace);

    // As faer's own decomposition feeds it (a copy of the lower triangle): zeros above.
    for j in 1..n {
        matrix.col_mut(j).subrows_mut(0, j).fill(0.0);
    }
    let block = faer::linalg::qr::no_pivoting::factor::recommended_block_size::<f64>(n, n);
    let mut reflections = Mat::<f64>::zeros(block, n - 1);
    tridiag::tridiag_in_place(matrix.as_mut(), reflections.as_mut(), par, stack, Default::default());

    let diagonal = Col::<f64>::from_fn(n, |i| matrix[(i, i)]);
    let subdiagonal = Col::<f64>::from_fn(n, |i| if i + 1 < n { matrix[(i + 1, i)] } else { 0.0 });
    let mut ascending = Col::<f64>::zeros(n);
    let mut tridiagonal_vectors = Mat::<f64>::zeros(n, n);
    evd::tridiagonal_self_adjoint_evd(
        diagonal.as_diagonal(),
        subdiagonal.as_diagonal(),
        ascending.as_diagonal_mut(),
        Some(tridiagonal_vectors.as_mut()),
        par,
        stack,
        Default::default(),
    )?;

    let values: Vec<f64> = (0..n).rev().map(|i| ascending[i]).collect();
    let k = keep(&values).min(n);
    let mut vectors = Mat::<f64>::from_fn(n, k, |i, j| tridiagonal_vectors[(i, n - 1 - j)]);
    if n > 1 {
        faer::linalg::householder::apply_block_householder_sequence_on_the_left_in_place_with_conj(
            matrix.as_ref().submatrix(1, 0, n - 1, n - 1),
            reflections.as_ref(),
            Conj::No,
            vectors.as_mut().subrows_mut(1, n - 1),
            par,
            stack,
        );
    }
    Ok(vectors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::Side;

    /// A covariance-like matrix with a decaying spectrum: XᵀX of deterministic, irregular rows.
    fn covariance(n: usize, rows: usize) -> Mat<f64> {
        let x = Mat::<f64>::from_fn(rows, n, |i, j| ((i * 131 + j * 17) as f64 * 0.618).sin() / (1.0 + j as f64 / 8.0));
        x.transpose() * &x
    }

    /// Against faer's full decomposition: the same eigenvalues and, up to sign, the same
    /// eigenvectors, from tiny matrices (QR path) to ones past the divide-and-conquer threshold.
    #[test]
    fn matches_the_full_decomposition() -> Result<(), EvdError> {
        for (n, k) in [(1, 1), (2, 1), (5, 3), (40, 40), (200, 17), (300, 0)] {
            let matrix = covariance(n, n + 50);
            let full = matrix.self_adjoint_eigen(Side::Lower)?;
            let mut values = Vec::new();
            let vectors = top_eigenpairs(matrix.clone(), |all| {
                values = all.to_vec();
                k
            })?;
            assert_eq!(values.len(), n);
            let scale = full.S()[n - 1].abs().max(1.0);
            for (j, value) in values.iter().enumerate() {
                assert!((value - full.S()[n - 1 - j]).abs() <= 1e-12 * scale, "n={n}: value {j}");
            }
            assert_eq!((vectors.nrows(), vectors.ncols()), (n, k));
            for j in 0..k {
                let reference = full.U().col(n - 1 - j);
                let dot: f64 = (0..n).map(|i| reference[i] * vectors[(i, j)]).sum();
                assert!((dot.abs() - 1.0).abs() < 1e-10, "n={n}: vector {j}, |dot| = {}", dot.abs());
            }
        }
        Ok(())
    }
}
