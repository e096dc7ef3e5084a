//! Normalisations over the last axis on row-major slices, with their
//! gradients and the training form of batch normalisation.
//!
//! An operand of shape `[.., f]` is seen as `(rows, features)`: `rows` is
//! the product of the axes before the last (1 for a vector), `features` the
//! last axis, whose per-feature parameters are slices of `features`
//! elements. Statistics are computed in `f64`.
//!
//! The per-lane and per-feature formulas are shared with the ndarray
//! kernels of [`kernels::norm_grad`](crate::kernels::norm_grad) (when the
//! `std` feature is on), so both compute the same values bit for bit; the
//! inference forms [`layer_norm`] and [`batch_norm`] repeat the formulas of
//! [`kernels::nn`](crate::kernels::nn) operation for operation.
//!
//! The kernels allocate nothing (batch statistics are kept on the stack,
//! 64 features at a time) and never panic on the data: a lane without
//! spread and `ε = 0` gives NaN, and so do batch statistics over no rows.

/// Features per block of batch statistics, kept on the stack.
pub(crate) const BLOCK: usize = 64;

#[cfg(feature = "std")]
fn sqrt64(x: f64) -> f64 {
    x.sqrt()
}

#[cfg(not(feature = "std"))]
fn sqrt64(x: f64) -> f64 {
    libm::sqrt(x)
}

#[allow(clippy::cast_possible_truncation)] // Rounding the f64 statistics is the point.
fn narrow(x: f64) -> f32 {
    x as f32
}

// ---------------------------------------------------------------- layer norm lanes

/// The mean and `1/√(σ² + ε)` of one lane (biased variance), in `f64`, as
/// [`kernels::nn::layer_norm`](crate::kernels::nn::layer_norm) computes
/// them, plus the lane's length as `f64`.
fn lane_moments<'a>(lane: impl Iterator<Item = &'a f32> + Clone, epsilon: f32) -> (f64, f64, f64) {
    let count = lane.clone().count() as f64;
    let mu = lane.clone().map(|&v| f64::from(v)).sum::<f64>() / count;
    let variance = lane
        .map(|&v| {
            let d = f64::from(v) - mu;
            d * d
        })
        .sum::<f64>()
        / count;
    (mu, 1.0 / sqrt64(variance + f64::from(epsilon)), count)
}

/// Layer norm of one lane: `out = narrow((x − μ)/√(σ² + ε))·gamma + beta`.
pub(crate) fn layer_norm_lane<'a, 'o>(
    x: impl Iterator<Item = &'a f32> + Clone,
    gamma: impl Iterator<Item = &'a f32>,
    beta: impl Iterator<Item = &'a f32>,
    epsilon: f32,
    out: impl Iterator<Item = &'o mut f32>,
) {
    let (mu, inverse, _) = lane_moments(x.clone(), epsilon);
    for (((o, &v), &g), &b) in out.zip(x).zip(gamma).zip(beta) {
        *o = narrow((f64::from(v) - mu) * inverse) * g + b;
    }
}

/// The normalised lane `x̂ = narrow((x − μ)/√(σ² + ε))`.
pub(crate) fn layer_norm_normalized_lane<'a, 'o>(
    x: impl Iterator<Item = &'a f32> + Clone,
    epsilon: f32,
    out: impl Iterator<Item = &'o mut f32>,
) {
    let (mu, inverse, _) = lane_moments(x.clone(), epsilon);
    for (o, &v) in out.zip(x) {
        *o = narrow((f64::from(v) - mu) * inverse);
    }
}

/// The gradient of a lane's layer norm with respect to `x`: with
/// `r = 1/√(σ² + ε)`, `x̂ = (x − μ)·r` and `ĝ = grad·gamma`,
/// `out = r·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂))`, all in `f64`.
pub(crate) fn layer_norm_grad_lane<'a, 'o>(
    x: impl Iterator<Item = &'a f32> + Clone,
    gamma: impl Iterator<Item = &'a f32> + Clone,
    grad: impl Iterator<Item = &'a f32> + Clone,
    epsilon: f32,
    out: impl Iterator<Item = &'o mut f32>,
) {
    let (mu, inverse, count) = lane_moments(x.clone(), epsilon);
    let (mut sum, mut dot) = (0.0_f64, 0.0_f64);
    for ((&v, &g), &d) in x.clone().zip(gamma.clone()).zip(grad.clone()) {
        let scaled = f64::from(d) * f64::from(g);
        sum += scaled;
        dot += scaled * ((f64::from(v) - mu) * inverse);
    }
    let (mean, mean_dot) = (sum / count, dot / count);
    for (((o, &v), &g), &d) in out.zip(x).zip(gamma).zip(grad) {
        let normalized = (f64::from(v) - mu) * inverse;
        let scaled = f64::from(d) * f64::from(g);
        *o = narrow(inverse * (scaled - mean - normalized * mean_dot));
    }
}

// ---------------------------------------------------------------- batch statistics

/// Batch statistics of up to [`BLOCK`] features, in `f64`: entries past the
/// block's width are unused.
pub(crate) struct Moments {
    /// Rows the statistics are over.
    count: usize,
    /// Per-feature mean.
    pub(crate) mean: [f64; BLOCK],
    /// Per-feature biased variance.
    pub(crate) variance: [f64; BLOCK],
    /// Per-feature `1/√(σ² + ε)`.
    inverse: [f64; BLOCK],
}

impl Moments {
    /// The mean and biased variance (two passes) of each feature of a block
    /// over all rows; `rows()` walks the rows, each cut to the block.
    pub(crate) fn of<'a, R, I>(rows: impl Fn() -> I, epsilon: f32) -> Self
    where
        I: Iterator<Item = R>,
        R: IntoIterator<Item = &'a f32>,
    {
        let mut moments = Moments {
            count: 0,
            mean: [0.0; BLOCK],
            variance: [0.0; BLOCK],
            inverse: [0.0; BLOCK],
        };
        for row in rows() {
            for (sum, &v) in moments.mean.iter_mut().zip(row) {
                *sum += f64::from(v);
            }
            moments.count += 1;
        }
        let count = moments.count as f64;
        for sum in &mut moments.mean {
            *sum /= count;
        }
        for row in rows() {
            for ((sum, &mu), &v) in moments.variance.iter_mut().zip(&moments.mean).zip(row) {
                let d = f64::from(v) - mu;
                *sum += d * d;
            }
        }
        for (variance, inverse) in moments.variance.iter_mut().zip(&mut moments.inverse) {
            *variance /= count;
            *inverse = 1.0 / sqrt64(*variance + f64::from(epsilon));
        }
        moments
    }

    /// Writes each row's `x̂ = narrow((x − μ)/√(σ² + ε))`, or
    /// `x̂·scale + offset` with an affine part, into its output row.
    pub(crate) fn normalize<'a, 'o, R, W>(
        &self,
        rows: impl Iterator<Item = (R, W)>,
        affine: Option<(&[f32; BLOCK], &[f32; BLOCK])>,
    ) where
        R: IntoIterator<Item = &'a f32>,
        W: IntoIterator<Item = &'o mut f32>,
    {
        for (x, out) in rows {
            for (k, (o, &v)) in out.into_iter().zip(x).enumerate() {
                let normalized = narrow((f64::from(v) - self.mean[k]) * self.inverse[k]);
                *o = match affine {
                    Some((scale, offset)) => normalized * scale[k] + offset[k],
                    None => normalized,
                };
            }
        }
    }

    /// The gradient through the batch statistics: with `r = 1/√(σ² + ε)`,
    /// `x̂ = (x − μ)·r` and means over the rows,
    /// `dx = scale·r·(grad − mean(grad) − x̂·mean(grad·x̂))`, in `f64`.
    /// `rows()` walks `(x, grad)` row pairs; `outputs` the same rows with
    /// each output row.
    pub(crate) fn backward<'a, 'o, R, W, I>(
        &self,
        rows: impl Fn() -> I,
        outputs: impl Iterator<Item = ((R, R), W)>,
        scale: &[f32; BLOCK],
    ) where
        I: Iterator<Item = (R, R)>,
        R: IntoIterator<Item = &'a f32>,
        W: IntoIterator<Item = &'o mut f32>,
    {
        let mut sum = [0.0_f64; BLOCK];
        let mut dot = [0.0_f64; BLOCK];
        for (x, grad) in rows() {
            for (k, (&v, &g)) in x.into_iter().zip(grad).enumerate() {
                let normalized = (f64::from(v) - self.mean[k]) * self.inverse[k];
                sum[k] += f64::from(g);
                dot[k] += f64::from(g) * normalized;
            }
        }
        let count = self.count as f64;
        for (sum, dot) in sum.iter_mut().zip(&mut dot) {
            *sum /= count;
            *dot /= count;
        }
        for ((x, grad), out) in outputs {
            for (k, ((o, &v), &g)) in out.into_iter().zip(x).zip(grad).enumerate() {
                let normalized = (f64::from(v) - self.mean[k]) * self.inverse[k];
                let centred = f64::from(g) - sum[k] - normalized * dot[k];
                *o = narrow(f64::from(scale[k]) * self.inverse[k] * centred);
            }
        }
    }
}

/// A block of up to [`BLOCK`] per-feature parameters copied to the stack.
pub(crate) fn block_of<'a>(values: impl IntoIterator<Item = &'a f32>) -> [f32; BLOCK] {
    let mut block = [0.0; BLOCK];
    for (b, &v) in block.iter_mut().zip(values) {
        *b = v;
    }
    block
}

// ---------------------------------------------------------------- slice kernels

/// The rows of `x`, each cut to features `start..end`.
fn block_rows(
    x: &[f32],
    features: usize,
    start: usize,
    end: usize,
) -> impl Iterator<Item = &[f32]> + '_ {
    x.chunks_exact(features).map(move |row| &row[start..end])
}

/// The rows of `out`, each cut to features `start..end`.
fn block_rows_mut(
    out: &mut [f32],
    features: usize,
    start: usize,
    end: usize,
) -> impl Iterator<Item = &mut [f32]> + '_ {
    out.chunks_exact_mut(features)
        .map(move |row| &mut row[start..end])
}

/// Layer normalisation over the last axis: with `μ` and `σ²` the mean and
/// (biased) variance of each row, `out[r, i] = (x[r, i] − μ)/√(σ² + ε)·gamma[i] + beta[i]`;
/// as [`kernels::nn::layer_norm`](crate::kernels::nn::layer_norm).
///
/// `x` and `out` hold `rows·features` elements, `gamma` and `beta`
/// `features`.
///
/// # Panics
/// If a slice is shorter than the sizes say.
///
/// ```
/// let mut out = [0.0_f32; 2];
/// graph_runtime::flat::layer_norm(&[1.0, 3.0], &[1.0, 1.0], &[0.0, 0.5], (1, 2), 0.0, &mut out);
/// assert_eq!(out, [-1.0, 1.5]);
/// ```
pub fn layer_norm(
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    (rows, features): (usize, usize),
    epsilon: f32,
    out: &mut [f32],
) {
    if features == 0 {
        return;
    }
    let (gamma, beta) = (&gamma[..features], &beta[..features]);
    let x = &x[..rows * features];
    for (lane, out) in x
        .chunks_exact(features)
        .zip(out[..rows * features].chunks_exact_mut(features))
    {
        layer_norm_lane(
            lane.iter(),
            gamma.iter(),
            beta.iter(),
            epsilon,
            out.iter_mut(),
        );
    }
}

/// The normalised input of [`layer_norm`], `x̂ = (x − μ)/√(σ² + ε)` per
/// row, from which the macro builds the parameters' gradients
/// (`d_gamma = Σ_rows grad·x̂`, `d_beta = Σ_rows grad`); as
/// [`kernels::norm_grad::layer_norm_normalized_into`](crate::kernels::norm_grad::layer_norm_normalized_into).
///
/// # Panics
/// If a slice is shorter than the sizes say.
///
/// ```
/// let mut out = [0.0_f32; 2];
/// graph_runtime::flat::layer_norm_normalized(&[1.0, 3.0], (1, 2), 0.0, &mut out);
/// assert_eq!(out, [-1.0, 1.0]);
/// ```
pub fn layer_norm_normalized(
    x: &[f32],
    (rows, features): (usize, usize),
    epsilon: f32,
    out: &mut [f32],
) {
    if features == 0 {
        return;
    }
    for (lane, out) in x[..rows * features]
        .chunks_exact(features)
        .zip(out[..rows * features].chunks_exact_mut(features))
    {
        layer_norm_normalized_lane(lane.iter(), epsilon, out.iter_mut());
    }
}

/// The gradient of [`layer_norm`] with respect to `x`, per row: with
/// `r = 1/√(σ² + ε)`, `x̂ = (x − μ)·r` and `ĝ = grad·gamma`,
/// `out = r·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂))` (means over the row); as
/// [`kernels::norm_grad::layer_norm_grad_into`](crate::kernels::norm_grad::layer_norm_grad_into).
///
/// `x`, `grad` and `out` hold `rows·features` elements, `gamma`
/// `features`.
///
/// # Panics
/// If a slice is shorter than the sizes say.
///
/// ```
/// // A gradient along x̂ itself is projected away (up to rounding).
/// let mut dx = [0.0_f32; 2];
/// graph_runtime::flat::layer_norm_grad(&[1.0, 3.0], &[1.0, 1.0], &[-1.0, 1.0], (1, 2), 0.0, &mut dx);
/// assert!(dx.iter().all(|d| d.abs() < 1e-7));
/// ```
pub fn layer_norm_grad(
    x: &[f32],
    gamma: &[f32],
    grad: &[f32],
    (rows, features): (usize, usize),
    epsilon: f32,
    out: &mut [f32],
) {
    if features == 0 {
        return;
    }
    let gamma = &gamma[..features];
    let lanes = x[..rows * features]
        .chunks_exact(features)
        .zip(grad[..rows * features].chunks_exact(features));
    for ((lane, grad), out) in lanes.zip(out[..rows * features].chunks_exact_mut(features)) {
        layer_norm_grad_lane(
            lane.iter(),
            gamma.iter(),
            grad.iter(),
            epsilon,
            out.iter_mut(),
        );
    }
}

/// Batch normalisation, inference form, over the last axis:
/// `out[r, f] = (x[r, f] − mean[f])·gain[f] + offset[f]` with
/// `gain = scale/√(variance + ε)` in `f32`; as
/// [`kernels::nn::batch_norm`](crate::kernels::nn::batch_norm).
///
/// `x` and `out` hold `rows·features` elements, the parameters `features`.
///
/// # Panics
/// If a slice is shorter than the sizes say.
///
/// ```
/// let mut out = [0.0_f32; 4];
/// graph_runtime::flat::batch_norm(
///     &[1.0, 10.0, 3.0, 30.0],
///     &[2.0, 20.0],  // mean
///     &[4.0, 100.0], // variance
///     &[1.0, 2.0],   // scale
///     &[0.0, 1.0],   // offset
///     (2, 2),
///     0.0,
///     &mut out,
/// );
/// assert_eq!(out, [-0.5, -1.0, 0.5, 3.0]);
/// ```
#[allow(clippy::too_many_arguments)] // The op's five operands, its sizes, ε and the output.
pub fn batch_norm(
    x: &[f32],
    mean: &[f32],
    variance: &[f32],
    scale: &[f32],
    offset: &[f32],
    (rows, features): (usize, usize),
    epsilon: f32,
    out: &mut [f32],
) {
    if features == 0 {
        return;
    }
    let (mean, variance) = (&mean[..features], &variance[..features]);
    let (scale, offset) = (&scale[..features], &offset[..features]);
    let x = &x[..rows * features];
    let out = &mut out[..rows * features];
    for start in (0..features).step_by(BLOCK) {
        let end = (start + BLOCK).min(features);
        let mut gains = [0.0_f32; BLOCK];
        for ((g, &v), &s) in gains
            .iter_mut()
            .zip(&variance[start..end])
            .zip(&scale[start..end])
        {
            *g = s / crate::scalar::sqrt(v + epsilon);
        }
        let (mean, offset) = (&mean[start..end], &offset[start..end]);
        for (lane, out) in
            block_rows(x, features, start, end).zip(block_rows_mut(out, features, start, end))
        {
            for ((((o, &v), &m), &g), &b) in
                out.iter_mut().zip(lane).zip(mean).zip(&gains).zip(offset)
            {
                *o = (v - m) * g + b;
            }
        }
    }
}

/// Batch normalisation, training form (TensorFlow's and Keras's
/// `training=True`): the statistics are the batch's, over all rows, with
/// the biased variance; `out = x̂·scale + offset` with
/// `x̂ = narrow((x − μ)/√(σ² + ε))`, and the statistics are written to
/// `mean_out` and `var_out` (rounded to `f32`) for the moving averages. As
/// [`kernels::norm_grad::batch_norm_train_into`](crate::kernels::norm_grad::batch_norm_train_into).
///
/// `x` and `out` hold `rows·features` elements, `scale`, `offset`,
/// `mean_out` and `var_out` `features`. With no rows the statistics are
/// NaN.
///
/// # Panics
/// If a slice is shorter than the sizes say.
///
/// ```
/// let (mut out, mut mean, mut var) = ([0.0_f32; 4], [0.0_f32; 2], [0.0_f32; 2]);
/// graph_runtime::flat::batch_norm_train(
///     &[1.0, 10.0, 3.0, 30.0], &[1.0, 2.0], &[0.0, 1.0], (2, 2), 0.0, &mut out, &mut mean, &mut var,
/// );
/// assert_eq!((mean, var), ([2.0, 20.0], [1.0, 100.0]));
/// assert_eq!(out, [-1.0, -1.0, 1.0, 3.0]);
/// ```
#[allow(clippy::too_many_arguments)] // The op's three operands, its sizes, ε and three outputs.
pub fn batch_norm_train(
    x: &[f32],
    scale: &[f32],
    offset: &[f32],
    (rows, features): (usize, usize),
    epsilon: f32,
    out: &mut [f32],
    mean_out: &mut [f32],
    var_out: &mut [f32],
) {
    if features == 0 {
        return;
    }
    let x = &x[..rows * features];
    let out = &mut out[..rows * features];
    for start in (0..features).step_by(BLOCK) {
        let end = (start + BLOCK).min(features);
        let moments = Moments::of(|| block_rows(x, features, start, end), epsilon);
        for ((m, v), k) in mean_out[start..end]
            .iter_mut()
            .zip(&mut var_out[start..end])
            .zip(0..)
        {
            *m = narrow(moments.mean[k]);
            *v = narrow(moments.variance[k]);
        }
        let affine = (
            &block_of(&scale[start..end]),
            &block_of(&offset[start..end]),
        );
        moments.normalize(
            block_rows(x, features, start, end).zip(block_rows_mut(out, features, start, end)),
            Some(affine),
        );
    }
}

/// The normalised input of [`batch_norm_train`],
/// `x̂ = (x − μ)/√(σ² + ε)` with the batch statistics, from which the macro
/// builds the parameters' gradients (`d_scale = Σ_rows grad·x̂`,
/// `d_offset = Σ_rows grad`); as
/// [`kernels::norm_grad::batch_norm_train_normalized_into`](crate::kernels::norm_grad::batch_norm_train_normalized_into).
///
/// # Panics
/// If a slice is shorter than the sizes say.
///
/// ```
/// let mut out = [0.0_f32; 4];
/// graph_runtime::flat::batch_norm_train_normalized(&[1.0, 10.0, 3.0, 30.0], (2, 2), 0.0, &mut out);
/// assert_eq!(out, [-1.0, -1.0, 1.0, 1.0]);
/// ```
pub fn batch_norm_train_normalized(
    x: &[f32],
    (rows, features): (usize, usize),
    epsilon: f32,
    out: &mut [f32],
) {
    if features == 0 {
        return;
    }
    let x = &x[..rows * features];
    let out = &mut out[..rows * features];
    for start in (0..features).step_by(BLOCK) {
        let end = (start + BLOCK).min(features);
        let moments = Moments::of(|| block_rows(x, features, start, end), epsilon);
        moments.normalize(
            block_rows(x, features, start, end).zip(block_rows_mut(out, features, start, end)),
            None,
        );
    }
}

/// The gradient of [`batch_norm_train`]'s output with respect to `x`,
/// through the batch statistics: per feature, with `r = 1/√(σ² + ε)`,
/// `x̂ = (x − μ)·r` and means over the rows,
/// `out = scale·r·(grad − mean(grad) − x̂·mean(grad·x̂))`; as
/// [`kernels::norm_grad::batch_norm_train_grad_into`](crate::kernels::norm_grad::batch_norm_train_grad_into).
///
/// `x`, `grad` and `out` hold `rows·features` elements, `scale`
/// `features`.
///
/// # Panics
/// If a slice is shorter than the sizes say.
///
/// ```
/// // A gradient that only shifts the batch is absorbed by the mean.
/// let mut dx = [9.0_f32; 4];
/// graph_runtime::flat::batch_norm_train_grad(
///     &[1.0, 10.0, 3.0, 30.0], &[1.0, 2.0], &[5.0, 1.0, 5.0, 1.0], (2, 2), 0.0, &mut dx,
/// );
/// assert_eq!(dx, [0.0; 4]);
/// ```
pub fn batch_norm_train_grad(
    x: &[f32],
    scale: &[f32],
    grad: &[f32],
    (rows, features): (usize, usize),
    epsilon: f32,
    out: &mut [f32],
) {
    if features == 0 {
        return;
    }
    let x = &x[..rows * features];
    let grad = &grad[..rows * features];
    let out = &mut out[..rows * features];
    for start in (0..features).step_by(BLOCK) {
        let end = (start + BLOCK).min(features);
        let moments = Moments::of(|| block_rows(x, features, start, end), epsilon);
        let pairs =
            || block_rows(x, features, start, end).zip(block_rows(grad, features, start, end));
        moments.backward(
            pairs,
            pairs().zip(block_rows_mut(out, features, start, end)),
            &block_of(&scale[start..end]),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `|a − b| ≤ 1e-6` elementwise.
    fn close(a: &[f32], b: &[f32]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-6)
    }

    // x = [0, 0, 3]: μ = 1, σ² = 2; with ε = 2, r = 1/2 and x̂ = [−½, −½, 1].

    #[test]
    fn layer_norm_gradient_by_hand() {
        // ĝ = grad·gamma = [2, 0, 0]: mean ⅔, mean(ĝ·x̂) = −⅓, so
        // dx = ½·(ĝ − ⅔ + x̂/3) = [7/12, −5/12, −1/6].
        let mut dx = [0.0_f32; 3];
        layer_norm_grad(
            &[0.0, 0.0, 3.0],
            &[2.0, 1.0, 1.0],
            &[1.0, 0.0, 0.0],
            (1, 3),
            2.0,
            &mut dx,
        );
        assert!(close(&dx, &[7.0 / 12.0, -5.0 / 12.0, -1.0 / 6.0]), "{dx:?}");
        let mut hat = [0.0_f32; 3];
        layer_norm_normalized(&[0.0, 0.0, 3.0], (1, 3), 2.0, &mut hat);
        assert_eq!(hat, [-0.5, -0.5, 1.0]);
        let mut y = [0.0_f32; 3];
        layer_norm(
            &[0.0, 0.0, 3.0],
            &[2.0, 1.0, 1.0],
            &[1.0; 3],
            (1, 3),
            2.0,
            &mut y,
        );
        assert_eq!(y, [0.0, 0.5, 2.0]);
    }

    #[test]
    fn batch_norm_training_by_hand() {
        // The same numbers as three rows of one feature, scale 2, offset 1.
        let x = [0.0_f32, 0.0, 3.0];
        let (mut y, mut mean, mut var) = ([0.0_f32; 3], [0.0_f32], [0.0_f32]);
        batch_norm_train(&x, &[2.0], &[1.0], (3, 1), 2.0, &mut y, &mut mean, &mut var);
        assert_eq!((y, mean, var), ([0.0, 0.0, 3.0], [1.0], [2.0]));
        let mut hat = [0.0_f32; 3];
        batch_norm_train_normalized(&x, (3, 1), 2.0, &mut hat);
        assert_eq!(hat, [-0.5, -0.5, 1.0]);
        // dx = scale·[7/12, −5/12, −1/6] with grad [2, 0, 0].
        let mut dx = [0.0_f32; 3];
        batch_norm_train_grad(&x, &[2.0], &[2.0, 0.0, 0.0], (3, 1), 2.0, &mut dx);
        assert!(close(&dx, &[7.0 / 6.0, -5.0 / 6.0, -1.0 / 3.0]), "{dx:?}");
    }

    #[test]
    fn more_features_than_a_block_and_empty_shapes() {
        // 2 rows of 70 features: feature f holds (f, −f); μ = 0, σ² = f².
        let mut x = [0.0_f32; 140];
        for f in 0..70 {
            x[f] = f as f32;
            x[70 + f] = -(f as f32);
        }
        let (mut y, mut mean, mut var) = ([9.0_f32; 140], [9.0_f32; 70], [9.0_f32; 70]);
        batch_norm_train(
            &x,
            &[1.0; 70],
            &[0.0; 70],
            (2, 70),
            0.0,
            &mut y,
            &mut mean,
            &mut var,
        );
        for f in 1..70 {
            assert_eq!((y[f], y[70 + f]), (1.0, -1.0), "feature {f}");
            assert_eq!((mean[f], var[f]), (0.0, (f * f) as f32));
        }
        // Feature 0 has no spread: 0/0 with ε = 0.
        assert!(y[0].is_nan());
        // No rows: NaN statistics, nothing else written.
        let (mut none, mut mean, mut var) = ([0.0_f32; 0], [0.0_f32; 2], [0.0_f32; 2]);
        batch_norm_train(
            &[],
            &[1.0; 2],
            &[0.0; 2],
            (0, 2),
            1e-3,
            &mut none,
            &mut mean,
            &mut var,
        );
        assert!(mean.iter().chain(&var).all(|v| v.is_nan()));
        // No features: nothing at all.
        layer_norm_grad(&[], &[], &[], (3, 0), 1e-3, &mut none);
        batch_norm(&[], &[], &[], &[], &[], (3, 0), 1e-3, &mut none);
    }
}
