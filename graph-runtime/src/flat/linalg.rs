//! Matrix products on row-major slices.

// The names of linear algebra: m × k times k × n.
#![allow(clippy::many_single_char_names)]

/// `out = a·b` with `a` m × k, `b` k × n and `out` m × n, all row-major.
/// Vectors are matrices with one row (`a`) or one column (`b`).
///
/// ```
/// let a = [1.0_f32, 2.0, 3.0, 4.0];
/// let b = [5.0_f32, 6.0, 7.0, 8.0];
/// let mut out = [0.0_f32; 4];
/// graph_runtime::flat::matmul(&a, &b, (2, 2, 2), &mut out);
/// assert_eq!(out, [19.0, 22.0, 43.0, 50.0]);
/// ```
pub fn matmul(a: &[f32], b: &[f32], (m, k, n): (usize, usize, usize), out: &mut [f32]) {
    dense(a, b, None, (m, k, n), crate::scalar::identity, out);
}

/// `out += scale · a·b`, with `a` m × k (or, with `transpose_a`, stored
/// transposed: k × m), `b` k × n and `out` m × n, all row-major: a weight
/// matrix updated by its gradient where the gradient is made (`w −= lr·hᵀ·δ`
/// is `matmul_accumulate(h, δ, (m, k, n), true, −lr, w)`), so that no
/// gradient buffer exists.
///
/// Row `i` of `out` adds `scale · a[i, p]` times row `p` of `b` for each
/// `p` in order: the inner loop runs along contiguous rows.
///
/// ```
/// // w = [[1, 0], [0, 1]] −= 0.5 · hᵀ·δ, with h = [[2, 4]] (1 × 2) and
/// // δ = [[1, -1]] (1 × 2): hᵀ·δ = [[2, -2], [4, -4]].
/// let mut w = [1.0_f32, 0.0, 0.0, 1.0];
/// graph_runtime::flat::matmul_accumulate(&[2.0, 4.0], &[1.0, -1.0], (2, 1, 2), true, -0.5, &mut w);
/// assert_eq!(w, [0.0, 1.0, -2.0, 3.0]);
/// ```
pub fn matmul_accumulate(
    a: &[f32],
    b: &[f32],
    (m, k, n): (usize, usize, usize),
    transpose_a: bool,
    scale: f32,
    out: &mut [f32],
) {
    for (i, row) in out.chunks_exact_mut(n.max(1)).take(m).enumerate() {
        for p in 0..k {
            let factor = scale
                * if transpose_a {
                    a[p * m + i]
                } else {
                    a[i * k + p]
                };
            for (o, &v) in row.iter_mut().zip(&b[p * n..(p + 1) * n]) {
                *o += factor * v;
            }
        }
    }
}

/// A dense layer: `out[i, j] = activation(Σ_k x[i, k]·w[k, j] + bias[j])`,
/// with `x` m × k, `w` k × n, `bias` n long and `out` m × n, all row-major.
///
/// Each row of `out` starts as the bias, then adds `x[i, k]` times row `k`
/// of `w`: the inner loop runs along contiguous rows, which the compiler
/// vectorises, and `w` is read once per row of `x`. The activation is a
/// function, so each use compiles to its own copy with the activation
/// inlined, and a model carries the code of the activations it uses only.
///
/// ```
/// use graph_runtime::{flat::dense, scalar};
///
/// let x = [1.0_f32, 2.0];
/// let w = [1.0_f32, -1.0, 1.0, -1.0];
/// let mut out = [0.0_f32; 2];
/// dense(&x, &w, Some(&[0.5, 0.5]), (1, 2, 2), scalar::relu, &mut out);
/// assert_eq!(out, [3.5, 0.0]);
/// ```
pub fn dense(
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    (m, k, n): (usize, usize, usize),
    activation: impl Fn(f32) -> f32,
    out: &mut [f32],
) {
    let w = &w[..k * n];
    for (i, row) in out[..m * n].chunks_exact_mut(n.max(1)).enumerate() {
        match bias {
            Some(bias) => row.copy_from_slice(&bias[..n]),
            None => row.fill(0.0),
        }
        let x_row = &x[i * k..(i + 1) * k];
        for (&xv, w_row) in x_row.iter().zip(w.chunks_exact(n.max(1))) {
            for (o, &wv) in row.iter_mut().zip(w_row) {
                *o += xv * wv;
            }
        }
        for o in row.iter_mut() {
            *o = activation(*o);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scalar;

    #[test]
    fn matrix_vector_and_empty_products() {
        // [2, 3] · [3, 1]
        let a = [1.0_f32, 2.0, 3.0, 4.0, 5.0, 6.0];
        let v = [1.0_f32, 0.0, -1.0];
        let mut out = [0.0_f32; 2];
        matmul(&a, &v, (2, 3, 1), &mut out);
        assert_eq!(out, [-2.0, -2.0]);
        // k = 0: a sum of nothing is 0, plus the bias.
        let mut out = [9.0_f32; 2];
        dense(
            &[],
            &[],
            Some(&[1.0, 2.0]),
            (1, 0, 2),
            scalar::identity,
            &mut out,
        );
        assert_eq!(out, [1.0, 2.0]);
        // n = 0 writes nothing.
        let mut none: [f32; 0] = [];
        matmul(&a, &[], (2, 3, 0), &mut none);
    }

    #[test]
    fn activation_applies_after_the_bias() {
        let x = [1.0_f32, 1.0];
        let w = [1.0_f32, 2.0, 3.0, 4.0];
        let mut out = [0.0_f32; 2];
        dense(
            &x,
            &w,
            Some(&[-5.0, -5.0]),
            (1, 2, 2),
            |v| scalar::leaky_relu(v, 0.5),
            &mut out,
        );
        assert_eq!(out, [-0.5, 1.0]);
    }
}
