//! Every gradient rule of `grad(loss, x)` against central finite differences
//! computed on the host in `f64`.
//!
//! Each case is a graph whose loss is `sum(op(..) * r)`, with `r` a fixed
//! random weighting input of the op's result shape (so every element of the
//! result matters and no symmetry hides a wrong rule), and one `grad` output
//! per differentiable operand. The references are written here, in plain
//! `f64` loops ([`reference`]), from the op's documented forward definition:
//! for every element `i` of an operand, the loss is evaluated at
//! `a ± h·eᵢ` with `h = 1e-5·max(1, |aᵢ|)`, and the central difference is
//! compared with the graph's `f32` gradient. Nothing expected comes from the
//! code under test.
//!
//! # Tolerance
//!
//! `|g − fd| ≤ 1e-4·max(1, |fd|)` ([`TOL`]):
//!
//! - the central difference in `f64` is far more accurate than that:
//!   truncation is `h²·|f'''|/6 ≈ 2e-11·|f'''|` and cancellation
//!   `2⁻⁵³·|loss|/h ≈ 1e-11·|loss|`, both under `1e-7` for every loss here
//!   (inputs `O(1)`, results `≤ ~20`, at most a few hundred terms);
//! - the graph's gradient is an `f32` computation of a handful of roundings
//!   per term plus sums of at most ~60 terms of magnitude ≤ ~20: its error
//!   is bounded by ~`60·20·6e-8 ≈ 7e-5` in the very worst case and is
//!   typically `1e-7` (the worst error seen is printed by each test under
//!   `--nocapture`; the largest, 4.5e-6, is `softmax(100·x)`, whose `f32`
//!   logits carry a rounding of `100·x` that the `f64` reference has not);
//! - a wrong rule (a lost factor, sign, broadcast sum, transposition or
//!   tie convention) is off by `O(|g|)`, orders of magnitude more.
//!
//! Inputs are drawn from a seeded `SplitMix64` generator, exactly
//! representable in `f32` (the `f64` references start from the same
//! values), away from kinks (`|x − kink| > 2e-2`) and without ties where
//! the gradient is discontinuous; the documented tie and kink conventions
//! are tested separately by hand ([`ties_and_kinks_by_hand`]). Graphs with
//! a symbolic batch dim run with `n = 1` and `n = 3`.
//!
//! The composition tests come last: a value used twice, shared parameters,
//! a 3-layer MLP with saliency, two gradients sharing one backward pass
//! (counted in `DOT`), a loss that does not depend on `x`, gradients in
//! updates (by hand, and updates whose gradients read each other's
//! variables, against finite differences), every dense-fusion activation,
//! a wide layer across the matrix kernel's panels with its packed weights
//! changed, reused workspaces, two symbolic dims, strided inputs and a
//! `#[no_std]` graph. The compositions are compiled twice, as usual and
//! with `#[optimize(off)]` ([`twins!`]): both are checked against the
//! references, and against each other to the rounding of reordered sums
//! (every pair compared here agrees bit for bit).

// One check per op and operand, the operands named as in the graphs.
#![allow(clippy::too_many_lines, clippy::many_single_char_names)]

use std::cell::Cell;

use staticflow::graph;
use staticflow::ndarray::{arr0, Array, Array1, ArrayD, ArrayView, Dimension, IxDyn};

type T = ArrayD<f64>;

/// A reference loss of the `f64` operands.
type Loss = Box<dyn Fn(&[T]) -> f64>;

/// A binary elementwise function.
type Binary = fn(f64, f64) -> f64;

// ------------------------------------------------------------------ random

/// `SplitMix64` (Steele, Lea, Flood 2014): tiny, seedable, good enough.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1_u64 << 53) as f64
    }

    /// Uniform in `[lo, hi)`, rounded to `f32`.
    fn float(&mut self, lo: f64, hi: f64) -> f32 {
        narrow(lo + (hi - lo) * self.unit())
    }

    /// A whole number in `0..bound`.
    fn below(&mut self, bound: usize) -> usize {
        usize::try_from(self.next_u64() % bound as u64).expect("small")
    }

    fn tensor(&mut self, shape: &[usize], mut draw: impl FnMut(&mut Self) -> f32) -> ArrayD<f32> {
        let count = shape.iter().product();
        let data = (0..count).map(|_| draw(self)).collect();
        ArrayD::from_shape_vec(IxDyn(shape), data).expect("shape")
    }

    /// Uniform in `[lo, hi)`.
    fn uniform(&mut self, shape: &[usize], lo: f64, hi: f64) -> ArrayD<f32> {
        self.tensor(shape, |rng| rng.float(lo, hi))
    }

    /// Uniform in `[lo, hi)`, but at least `margin` from every kink.
    fn avoiding(
        &mut self,
        shape: &[usize],
        lo: f64,
        hi: f64,
        kinks: &[f64],
        margin: f64,
    ) -> ArrayD<f32> {
        self.tensor(shape, |rng| loop {
            let v = rng.float(lo, hi);
            if kinks.iter().all(|k| (f64::from(v) - k).abs() > margin) {
                break v;
            }
        })
    }

    /// Magnitude in `[0.3, 1.5)` with a random sign: safe denominators.
    fn nonzero(&mut self, shape: &[usize]) -> ArrayD<f32> {
        self.tensor(shape, |rng| {
            let v = rng.float(0.3, 1.5);
            if rng.next_u64() & 1 == 0 {
                v
            } else {
                -v
            }
        })
    }

    /// `(k + offset) / 8` for random whole `k` in `-12..12`: two tensors
    /// drawn with offsets differing by `d` never come closer than `d / 8`.
    fn grid(&mut self, shape: &[usize], offset: f64) -> ArrayD<f32> {
        self.tensor(shape, |rng| {
            let k = rng.below(24) as f64 - 12.0;
            narrow((k + offset) / 8.0)
        })
    }

    /// Pairwise distinct values (at least 1/16 apart), shuffled.
    fn distinct(&mut self, shape: &[usize]) -> ArrayD<f32> {
        let count: usize = shape.iter().product();
        let mut values: Vec<f32> = (0..count)
            .map(|i| narrow((i as f64 - count as f64 / 2.0) / 8.0 + self.unit() / 16.0))
            .collect();
        for i in (1..count).rev() {
            values.swap(i, self.below(i + 1));
        }
        ArrayD::from_shape_vec(IxDyn(shape), values).expect("shape")
    }

    /// Class indices in `0..bound`.
    fn indices(&mut self, shape: &[usize], bound: usize) -> ArrayD<usize> {
        let count = shape.iter().product();
        let data = (0..count).map(|_| self.below(bound)).collect();
        ArrayD::from_shape_vec(IxDyn(shape), data).expect("shape")
    }
}

/// An `f64` rounded to the nearest `f32`.
#[allow(clippy::cast_possible_truncation)]
fn narrow(v: f64) -> f32 {
    v as f32
}

/// The `f32` constant a graph literal becomes, widened exactly.
fn lit(v: f32) -> f64 {
    f64::from(v)
}

// ------------------------------------------------------------------ glue

fn f64s(a: &ArrayD<f32>) -> T {
    a.mapv(f64::from)
}

/// A dynamic-rank array as the fixed-rank view a graph method takes.
fn view<A, D: Dimension>(a: &ArrayD<A>) -> ArrayView<'_, A, D> {
    a.view().into_dimensionality::<D>().expect("rank")
}

/// A scalar input, from its 0-d array.
fn scalar(a: &ArrayD<f32>) -> f32 {
    a[IxDyn(&[])]
}

/// A graph's result as a dynamic-rank array (scalars as 0-d arrays).
trait Dyn {
    fn dyn_(self) -> ArrayD<f32>;
}

impl Dyn for f32 {
    fn dyn_(self) -> ArrayD<f32> {
        arr0(self).into_dyn()
    }
}

impl<D: Dimension> Dyn for Array<f32, D> {
    fn dyn_(self) -> ArrayD<f32> {
        self.into_dyn()
    }
}

/// `[(operand index, gradient)]`, for [`check`].
macro_rules! g {
    ($($which:expr => $grad:expr),* $(,)?) => {
        vec![$(($which, Dyn::dyn_($grad))),*]
    };
}

// ------------------------------------------------------------------ checking

/// How far the graph's `f32` gradient may be from the `f64` central
/// difference, relative to `max(1, |fd|)`; see the module documentation.
const TOL: f64 = 1e-4;

/// How far the graph's `f32` loss may be from the `f64` loss, relative to
/// `max(1, |loss|)`: the same rounding argument as [`TOL`].
const LOSS_TOL: f64 = 1e-4;

thread_local! {
    /// The worst `|g − fd| / max(1, |fd|)` this thread has seen.
    static WORST: Cell<f64> = const { Cell::new(0.0) };
    /// Losses, gradient tensors and gradient elements checked.
    static CHECKED: Cell<[usize; 3]> = const { Cell::new([0; 3]) };
}

fn count_checked(losses: usize, tensors: usize, elements: usize) {
    CHECKED.with(|checked| {
        let [l, t, e] = checked.get();
        checked.set([l + losses, t + tensors, e + elements]);
    });
}

/// Prints (under `--nocapture`) and resets the worst error seen.
fn report(test: &str) {
    let worst = WORST.with(|worst| worst.replace(0.0));
    let [losses, tensors, elements] = CHECKED.with(|checked| checked.replace([0; 3]));
    eprintln!(
        "{test}: {losses} losses, {tensors} gradients, {elements} elements; worst gradient \
         error {worst:.2e} (tolerance {TOL:e}, {:.0}x headroom)",
        TOL / worst.max(1e-300)
    );
}

/// The central difference of `loss` with respect to element `i` of operand
/// `which`, at `point`.
fn central_difference(point: &mut [T], which: usize, i: usize, loss: &dyn Fn(&[T]) -> f64) -> f64 {
    let x0 = point[which].as_slice().expect("standard layout")[i];
    let h = 1e-5 * x0.abs().max(1.0);
    let (up_x, down_x) = (x0 + h, x0 - h);
    point[which].as_slice_mut().expect("standard layout")[i] = up_x;
    let up = loss(point);
    point[which].as_slice_mut().expect("standard layout")[i] = down_x;
    let down = loss(point);
    point[which].as_slice_mut().expect("standard layout")[i] = x0;
    (up - down) / (up_x - down_x)
}

/// Checks one loss: its value against the `f64` reference `loss` at
/// `inputs`, and each `(operand, gradient)` against central differences.
#[track_caller]
fn check(
    name: &str,
    inputs: &[T],
    got_loss: f32,
    grads: Vec<(usize, ArrayD<f32>)>,
    loss: impl Fn(&[T]) -> f64,
) {
    let expected = loss(inputs);
    let got = f64::from(got_loss);
    assert!(
        (got - expected).abs() <= LOSS_TOL * expected.abs().max(1.0),
        "{name}: loss {got:e}, expected {expected:e}"
    );
    let mut point = inputs.to_vec();
    count_checked(1, grads.len(), grads.iter().map(|(_, g)| g.len()).sum());
    for (which, grad) in grads {
        assert_eq!(
            grad.shape(),
            inputs[which].shape(),
            "{name}: shape of the gradient to operand {which}"
        );
        for (i, (index, &g)) in grad.indexed_iter().enumerate() {
            let fd = central_difference(&mut point, which, i, &loss);
            let g = f64::from(g);
            let error = (g - fd).abs() / fd.abs().max(1.0);
            WORST.with(|worst| worst.set(worst.get().max(error)));
            assert!(
                error <= TOL,
                "{name}: d loss / d operand {which} at {:?}: graph {g:e}, finite difference {fd:e}",
                index.slice()
            );
        }
    }
}

/// The loss `Σ f(operand)·r` of a unary function.
fn elementwise(which: usize, r: usize, f: &dyn Fn(f64) -> f64) -> impl Fn(&[T]) -> f64 + '_ {
    move |t: &[T]| dot(&t[which].mapv(f), &t[r])
}

/// `Σ a·r` over equal shapes: the weighting every loss applies.
fn dot(a: &T, r: &T) -> f64 {
    assert_eq!(a.shape(), r.shape(), "weighting shape");
    a.iter().zip(r).map(|(x, y)| x * y).sum()
}

// ------------------------------------------------------------------ reference

/// The ops' forward definitions in `f64`, as `docs/LANGUAGE.md` states
/// them, in plain loops.
mod reference {
    use super::T;
    use staticflow::ndarray::{ArrayD, Dimension, IxDyn};

    pub fn at(a: &T, index: &[usize]) -> f64 {
        a[IxDyn(index)]
    }

    /// numpy broadcasting of two shapes.
    pub fn broadcast_shape(a: &[usize], b: &[usize]) -> Vec<usize> {
        let rank = a.len().max(b.len());
        let dim = |s: &[usize], i: usize| {
            if i + s.len() >= rank {
                s[i + s.len() - rank]
            } else {
                1
            }
        };
        (0..rank)
            .map(|i| {
                let (x, y) = (dim(a, i), dim(b, i));
                assert!(x == y || x == 1 || y == 1, "{a:?} with {b:?}");
                x.max(y)
            })
            .collect()
    }

    /// The element of an operand of `shape` that position `index` of a
    /// broadcast result reads.
    pub fn source(index: &[usize], shape: &[usize]) -> Vec<usize> {
        let skip = index.len() - shape.len();
        shape
            .iter()
            .enumerate()
            .map(|(i, &d)| if d == 1 { 0 } else { index[skip + i] })
            .collect()
    }

    /// A binary elementwise op with broadcasting.
    pub fn zip(a: &T, b: &T, f: impl Fn(f64, f64) -> f64) -> T {
        let shape = broadcast_shape(a.shape(), b.shape());
        T::from_shape_fn(IxDyn(&shape), |i| {
            f(
                at(a, &source(i.slice(), a.shape())),
                at(b, &source(i.slice(), b.shape())),
            )
        })
    }

    /// `select(mask, a, b)` with a mask of booleans as 0/1.
    pub fn select(mask: &ArrayD<bool>, a: &T, b: &T) -> T {
        let m = mask.mapv(|v| if v { 1.0 } else { 0.0 });
        let ab = broadcast_shape(a.shape(), b.shape());
        let shape = broadcast_shape(m.shape(), &ab);
        T::from_shape_fn(IxDyn(&shape), |i| {
            if at(&m, &source(i.slice(), m.shape())) == 1.0 {
                at(a, &source(i.slice(), a.shape()))
            } else {
                at(b, &source(i.slice(), b.shape()))
            }
        })
    }

    fn fold(a: &T, axes: &[usize], keep: bool, init: f64, f: impl Fn(f64, f64) -> f64) -> T {
        let kept: Vec<usize> = a
            .shape()
            .iter()
            .enumerate()
            .map(|(i, &d)| if axes.contains(&i) { 1 } else { d })
            .collect();
        let mut out = T::from_elem(IxDyn(&kept), init);
        for (index, &v) in a.indexed_iter() {
            let to: Vec<usize> = index
                .slice()
                .iter()
                .enumerate()
                .map(|(i, &k)| if axes.contains(&i) { 0 } else { k })
                .collect();
            let slot = &mut out[IxDyn(&to)];
            *slot = f(*slot, v);
        }
        if keep {
            out
        } else {
            let dropped: Vec<usize> = a
                .shape()
                .iter()
                .enumerate()
                .filter(|(i, _)| !axes.contains(i))
                .map(|(_, &d)| d)
                .collect();
            reshape(&out, &dropped)
        }
    }

    pub fn sum(a: &T, axes: &[usize], keep: bool) -> T {
        fold(a, axes, keep, 0.0, |s, v| s + v)
    }

    pub fn mean(a: &T, axes: &[usize], keep: bool) -> T {
        let count: usize = axes.iter().map(|&i| a.shape()[i]).product();
        sum(a, axes, keep) / count as f64
    }

    pub fn max(a: &T, axes: &[usize], keep: bool) -> T {
        fold(a, axes, keep, f64::NEG_INFINITY, f64::max)
    }

    pub fn min(a: &T, axes: &[usize], keep: bool) -> T {
        fold(a, axes, keep, f64::INFINITY, f64::min)
    }

    pub fn logsumexp(a: &T, axis: usize, keep: bool) -> T {
        let m = max(a, &[axis], true);
        let s = sum(&zip(a, &m, |x, m| (x - m).exp()), &[axis], true);
        let l = zip(&m, &s, |m, s| m + s.ln());
        if keep {
            l
        } else {
            let mut shape = a.shape().to_vec();
            shape.remove(axis);
            reshape(&l, &shape)
        }
    }

    pub fn log_softmax(a: &T, axis: usize) -> T {
        zip(a, &logsumexp(a, axis, true), |x, l| x - l)
    }

    pub fn softmax(a: &T, axis: usize) -> T {
        log_softmax(a, axis).mapv(f64::exp)
    }

    /// `[m, k] × [k, n]` on flat row-major data.
    fn product(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
        let mut out = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                for p in 0..k {
                    out[i * n + j] += a[i * k + p] * b[p * n + j];
                }
            }
        }
        out
    }

    /// numpy's `matmul` on the rank pairs the language has.
    pub fn matmul(a: &T, b: &T) -> T {
        let flat = |x: &T| x.iter().copied().collect::<Vec<f64>>();
        let (x, y) = (flat(a), flat(b));
        let (s, t) = (a.shape(), b.shape());
        let (shape, data) = match (s.len(), t.len()) {
            (1, 1) => (vec![], product(&x, &y, 1, s[0], 1)),
            (1, 2) => (vec![t[1]], product(&x, &y, 1, s[0], t[1])),
            (2, 1) => (vec![s[0]], product(&x, &y, s[0], s[1], 1)),
            (2, 2) => (vec![s[0], t[1]], product(&x, &y, s[0], s[1], t[1])),
            (3, 2 | 3) => {
                let (m, k, n) = (s[1], s[2], *t.last().unwrap());
                let mut data = Vec::new();
                for i in 0..s[0] {
                    let right = if t.len() == 3 {
                        &y[i * k * n..(i + 1) * k * n]
                    } else {
                        &y[..]
                    };
                    data.extend(product(&x[i * m * k..(i + 1) * m * k], right, m, k, n));
                }
                (vec![s[0], m, n], data)
            }
            other => panic!("no matmul of ranks {other:?}"),
        };
        T::from_shape_vec(IxDyn(&shape), data).expect("shape")
    }

    pub fn reshape(a: &T, shape: &[usize]) -> T {
        T::from_shape_vec(IxDyn(shape), a.iter().copied().collect()).expect("element count")
    }

    /// Result axis `d` is operand axis `axes[d]`.
    pub fn permute(a: &T, axes: &[usize]) -> T {
        let shape: Vec<usize> = axes.iter().map(|&k| a.shape()[k]).collect();
        T::from_shape_fn(IxDyn(&shape), |i| {
            let mut from = vec![0; a.ndim()];
            for (d, &k) in axes.iter().enumerate() {
                from[k] = i[d];
            }
            at(a, &from)
        })
    }

    pub fn transpose(a: &T) -> T {
        let axes: Vec<usize> = (0..a.ndim()).rev().collect();
        permute(a, &axes)
    }

    /// `np.pad(a, paddings, constant_values=value)`.
    pub fn pad(a: &T, paddings: &[[usize; 2]], value: f64) -> T {
        let shape: Vec<usize> = a
            .shape()
            .iter()
            .zip(paddings)
            .map(|(len, [before, after])| before + len + after)
            .collect();
        T::from_shape_fn(IxDyn(&shape), |i| {
            let from: Option<Vec<usize>> = i
                .slice()
                .iter()
                .zip(paddings)
                .zip(a.shape())
                .map(|((&k, [before, _]), &len)| k.checked_sub(*before).filter(|&k| k < len))
                .collect();
            from.map_or(value, |from| at(a, &from))
        })
    }

    pub fn concat(parts: &[&T], axis: usize) -> T {
        let mut shape = parts[0].shape().to_vec();
        shape[axis] = parts.iter().map(|p| p.shape()[axis]).sum();
        T::from_shape_fn(IxDyn(&shape), |i| {
            let mut from = i.slice().to_vec();
            for part in parts {
                if from[axis] < part.shape()[axis] {
                    return at(part, &from);
                }
                from[axis] -= part.shape()[axis];
            }
            unreachable!("inside the result")
        })
    }

    /// `slice(a, axis, start, end)`, negative bounds counting from the end.
    pub fn slice(a: &T, axis: usize, start: isize, end: isize) -> T {
        let size = isize::try_from(a.shape()[axis]).expect("small");
        let bound = |b: isize| usize::try_from(if b < 0 { b + size } else { b }).expect("in range");
        let (start, end) = (bound(start), bound(end));
        let mut shape = a.shape().to_vec();
        shape[axis] = end - start;
        T::from_shape_fn(IxDyn(&shape), |i| {
            let mut from = i.slice().to_vec();
            from[axis] += start;
            at(a, &from)
        })
    }

    pub fn broadcast_to(a: &T, shape: &[usize]) -> T {
        T::from_shape_fn(IxDyn(shape), |i| at(a, &source(i.slice(), a.shape())))
    }

    /// `(x − mean) / √(variance + ε) · scale + offset` along the last axis.
    pub fn batch_norm(x: &T, mean: &T, variance: &T, scale: &T, offset: &T, epsilon: f64) -> T {
        T::from_shape_fn(x.raw_dim(), |i| {
            let c = [i[i.ndim() - 1]];
            (at(x, i.slice()) - at(mean, &c)) / (at(variance, &c) + epsilon).sqrt() * at(scale, &c)
                + at(offset, &c)
        })
    }

    /// Each row over the last axis: biased variance, then `· gamma + beta`.
    pub fn layer_norm(x: &T, gamma: &T, beta: &T, epsilon: f64) -> T {
        let c = *x.shape().last().unwrap();
        let data: Vec<f64> = x.iter().copied().collect();
        let mut out = Vec::with_capacity(data.len());
        for row in data.chunks(c) {
            let mu = row.iter().sum::<f64>() / c as f64;
            let var = row.iter().map(|v| (v - mu) * (v - mu)).sum::<f64>() / c as f64;
            for (j, v) in row.iter().enumerate() {
                out.push((v - mu) / (var + epsilon).sqrt() * at(gamma, &[j]) + at(beta, &[j]));
            }
        }
        T::from_shape_vec(x.raw_dim(), out).expect("shape")
    }

    /// `table[indices]`: shape `indices ++ table[1..]`.
    pub fn gather(table: &T, indices: &ArrayD<usize>) -> T {
        let rest = &table.shape()[1..];
        let row: usize = rest.iter().product();
        let flat: Vec<f64> = table.iter().copied().collect();
        let mut data = Vec::new();
        for &i in indices {
            data.extend_from_slice(&flat[i * row..(i + 1) * row]);
        }
        let mut shape = indices.shape().to_vec();
        shape.extend_from_slice(rest);
        T::from_shape_vec(IxDyn(&shape), data).expect("shape")
    }

    pub fn mse(p: &T, t: &T) -> f64 {
        assert_eq!(p.shape(), t.shape());
        p.iter().zip(t).map(|(a, b)| (a - b) * (a - b)).sum::<f64>() / p.len() as f64
    }

    /// Per row: `−Σ_c y·log_softmax(l)`.
    pub fn cross_entropy(logits: &T, labels: &T) -> T {
        sum(&(log_softmax(logits, 1) * labels * -1.0), &[1], false)
    }

    /// Per row: `−log_softmax(l)[label]`.
    pub fn cross_entropy_indices(logits: &T, labels: &ArrayD<usize>) -> T {
        let lsm = log_softmax(logits, 1);
        T::from_shape_fn(IxDyn(&[labels.len()]), |i| {
            -at(&lsm, &[i[0], labels[[i[0]].as_slice()]])
        })
    }

    /// The error function, by its Taylor series (|x| ≤ 3 here, where it
    /// converges to ~1e-14 in f64).
    pub fn erf(x: f64) -> f64 {
        assert!(x.abs() <= 3.0, "erf series used outside its range");
        let mut term = x;
        let mut total = x;
        let mut n = 0.0;
        while term.abs() > 1e-18 {
            n += 1.0;
            term *= -x * x / n;
            total += term / (2.0 * n + 1.0);
        }
        total * 2.0 / std::f64::consts::PI.sqrt()
    }

    pub fn sigmoid(x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }

    pub fn softplus(x: f64) -> f64 {
        x.max(0.0) + (-x.abs()).exp().ln_1p()
    }

    pub fn gelu_tanh(x: f64) -> f64 {
        let c = (2.0 / std::f64::consts::PI).sqrt();
        0.5 * x * (1.0 + (c * (x + 0.044_715 * x * x * x)).tanh())
    }

    pub fn gelu_exact(x: f64) -> f64 {
        0.5 * x * (1.0 + erf(x / std::f64::consts::SQRT_2))
    }

    pub fn elu(x: f64, alpha: f64) -> f64 {
        if x > 0.0 {
            x
        } else {
            alpha * x.exp_m1()
        }
    }

    pub fn hard_sigmoid(x: f64, alpha: f64, beta: f64) -> f64 {
        (alpha * x + beta).clamp(0.0, 1.0)
    }

    pub fn leaky_relu(x: f64, alpha: f64) -> f64 {
        if x > 0.0 {
            x
        } else {
            alpha * x
        }
    }
}

use reference as rf;

// ============================================================ elementwise

graph! {
    /// Every function of one element, each in its own loss.
    struct Unary {
        input a: [n, 4];
        input p: [n, 4];
        input r: [n, 4];
        output l_neg = sum(neg(a) * r);
        output g_neg = grad(l_neg, a);
        output l_minus = sum((-a) * r);
        output g_minus = grad(l_minus, a);
        output l_abs = sum(abs(a) * r);
        output g_abs = grad(l_abs, a);
        output l_exp = sum(exp(a) * r);
        output g_exp = grad(l_exp, a);
        output l_log = sum(log(p) * r);
        output g_log = grad(l_log, p);
        output l_sqrt = sum(sqrt(p) * r);
        output g_sqrt = grad(l_sqrt, p);
        output l_square = sum(square(a) * r);
        output g_square = grad(l_square, a);
        output l_pow3 = sum(pow(a, 3.0) * r);
        output g_pow3 = grad(l_pow3, a);
        output l_pow2 = sum(pow(a, 2) * r);
        output g_pow2 = grad(l_pow2, a);
        output l_pow_half = sum(pow(p, 0.5) * r);
        output g_pow_half = grad(l_pow_half, p);
        output l_pow_neg = sum(pow(p, -1.5) * r);
        output g_pow_neg = grad(l_pow_neg, p);
        output l_relu = sum(relu(a) * r);
        output g_relu = grad(l_relu, a);
        output l_leaky = sum(leaky_relu(a) * r);
        output g_leaky = grad(l_leaky, a);
        output l_leaky_01 = sum(leaky_relu(a, alpha = 0.1) * r);
        output g_leaky_01 = grad(l_leaky_01, a);
        output l_sigmoid = sum(sigmoid(a) * r);
        output g_sigmoid = grad(l_sigmoid, a);
        output l_tanh = sum(tanh(a) * r);
        output g_tanh = grad(l_tanh, a);
        output l_gelu_tanh = sum(gelu_tanh(a) * r);
        output g_gelu_tanh = grad(l_gelu_tanh, a);
        output l_gelu_exact = sum(gelu_exact(a) * r);
        output g_gelu_exact = grad(l_gelu_exact, a);
        output l_erf = sum(erf(a) * r);
        output g_erf = grad(l_erf, a);
        output l_softplus = sum(softplus(a) * r);
        output g_softplus = grad(l_softplus, a);
        output l_clip = sum(clip(a, -0.5, 0.7) * r);
        output g_clip = grad(l_clip, a);
        output l_silu = sum(silu(a) * r);
        output g_silu = grad(l_silu, a);
        output l_elu = sum(elu(a) * r);
        output g_elu = grad(l_elu, a);
        output l_elu_half = sum(elu(a, alpha = 0.5) * r);
        output g_elu_half = grad(l_elu_half, a);
        output l_hard = sum(hard_sigmoid(a) * r);
        output g_hard = grad(l_hard, a);
        output l_hard_custom = sum(hard_sigmoid(a, alpha = 0.5, beta = 0.25) * r);
        output g_hard_custom = grad(l_hard_custom, a);
        output l_method = sum(a.tanh().exp() * r);
        output g_method = grad(l_method, a);
    }
}

#[test]
fn unary_functions() {
    const A: usize = 0;
    const P: usize = 1;
    const R: usize = 2;
    // Kinks: 0 (abs, relu, leaky_relu, elu), the clip bounds, the corners
    // of both hard sigmoids (α·x + β ∈ {0, 1}).
    let kinks = [0.0, -0.5, 0.7, -2.5, 2.5, 1.5];
    for n in [1, 3] {
        let mut rng = Rng::new(0x0A + n as u64);
        let a = rng.avoiding(&[n, 4], -3.0, 3.0, &kinks, 2e-2);
        let p = rng.uniform(&[n, 4], 0.2, 3.0);
        let r = rng.uniform(&[n, 4], -1.0, 1.0);
        let o = Unary::new().run(view(&a), view(&p), view(&r)).unwrap();
        let t = [f64s(&a), f64s(&p), f64s(&r)];
        let on = |which, f| elementwise(which, R, f);
        let name = |op: &str| format!("{op} (n = {n})");
        check(&name("neg"), &t, o.l_neg, g![A => o.g_neg], on(A, &|x| -x));
        check(
            &name("-a"),
            &t,
            o.l_minus,
            g![A => o.g_minus],
            on(A, &|x| -x),
        );
        check(
            &name("abs"),
            &t,
            o.l_abs,
            g![A => o.g_abs],
            on(A, &f64::abs),
        );
        check(
            &name("exp"),
            &t,
            o.l_exp,
            g![A => o.g_exp],
            on(A, &f64::exp),
        );
        check(&name("log"), &t, o.l_log, g![P => o.g_log], on(P, &f64::ln));
        check(
            &name("sqrt"),
            &t,
            o.l_sqrt,
            g![P => o.g_sqrt],
            on(P, &f64::sqrt),
        );
        let square = |x: f64| x * x;
        check(
            &name("square"),
            &t,
            o.l_square,
            g![A => o.g_square],
            on(A, &square),
        );
        let cube = |x: f64| x * x * x;
        check(
            &name("pow 3"),
            &t,
            o.l_pow3,
            g![A => o.g_pow3],
            on(A, &cube),
        );
        check(
            &name("pow 2"),
            &t,
            o.l_pow2,
            g![A => o.g_pow2],
            on(A, &square),
        );
        let half = |x: f64| x.powf(0.5);
        check(
            &name("pow 0.5"),
            &t,
            o.l_pow_half,
            g![P => o.g_pow_half],
            on(P, &half),
        );
        let neg = |x: f64| x.powf(-1.5);
        check(
            &name("pow -1.5"),
            &t,
            o.l_pow_neg,
            g![P => o.g_pow_neg],
            on(P, &neg),
        );
        let relu = |x: f64| x.max(0.0);
        check(&name("relu"), &t, o.l_relu, g![A => o.g_relu], on(A, &relu));
        let leaky = |x| rf::leaky_relu(x, lit(0.2));
        check(
            &name("leaky_relu"),
            &t,
            o.l_leaky,
            g![A => o.g_leaky],
            on(A, &leaky),
        );
        let leaky = |x| rf::leaky_relu(x, lit(0.1));
        check(
            &name("leaky_relu 0.1"),
            &t,
            o.l_leaky_01,
            g![A => o.g_leaky_01],
            on(A, &leaky),
        );
        check(
            &name("sigmoid"),
            &t,
            o.l_sigmoid,
            g![A => o.g_sigmoid],
            on(A, &rf::sigmoid),
        );
        check(
            &name("tanh"),
            &t,
            o.l_tanh,
            g![A => o.g_tanh],
            on(A, &f64::tanh),
        );
        let gelu = &rf::gelu_tanh;
        check(
            &name("gelu_tanh"),
            &t,
            o.l_gelu_tanh,
            g![A => o.g_gelu_tanh],
            on(A, gelu),
        );
        let gelu = &rf::gelu_exact;
        check(
            &name("gelu_exact"),
            &t,
            o.l_gelu_exact,
            g![A => o.g_gelu_exact],
            on(A, gelu),
        );
        check(&name("erf"), &t, o.l_erf, g![A => o.g_erf], on(A, &rf::erf));
        check(
            &name("softplus"),
            &t,
            o.l_softplus,
            g![A => o.g_softplus],
            on(A, &rf::softplus),
        );
        let clip = |x: f64| x.clamp(lit(-0.5), lit(0.7));
        check(&name("clip"), &t, o.l_clip, g![A => o.g_clip], on(A, &clip));
        let silu = |x| x * rf::sigmoid(x);
        check(&name("silu"), &t, o.l_silu, g![A => o.g_silu], on(A, &silu));
        let elu = |x| rf::elu(x, 1.0);
        check(&name("elu"), &t, o.l_elu, g![A => o.g_elu], on(A, &elu));
        let elu = |x| rf::elu(x, 0.5);
        check(
            &name("elu 0.5"),
            &t,
            o.l_elu_half,
            g![A => o.g_elu_half],
            on(A, &elu),
        );
        let hard = |x| rf::hard_sigmoid(x, lit(0.2), 0.5);
        check(
            &name("hard_sigmoid"),
            &t,
            o.l_hard,
            g![A => o.g_hard],
            on(A, &hard),
        );
        let hard = |x| rf::hard_sigmoid(x, 0.5, 0.25);
        let (l, gr) = (o.l_hard_custom, o.g_hard_custom);
        check(
            &name("hard_sigmoid 0.5 0.25"),
            &t,
            l,
            g![A => gr],
            on(A, &hard),
        );
        let method = |x: f64| x.tanh().exp();
        check(
            &name("a.tanh().exp()"),
            &t,
            o.l_method,
            g![A => o.g_method],
            on(A, &method),
        );
    }
    report("unary_functions");
}

graph! {
    /// `+ - * /` with broadcasting both ways, scalars and constants.
    struct Arithmetic {
        input a: [n, 4];
        input b: [4];
        input c: [n, 1];
        input d: [1, 4];
        input s: [];
        input e: [2, 1, 3];
        input f: [4, 1];
        input r: [n, 4];
        input r3: [2, 4, 3];
        output l_add_ab = sum((a + b) * r);
        output g_add_ab_a = grad(l_add_ab, a);
        output g_add_ab_b = grad(l_add_ab, b);
        output l_add_ba = sum((b + a) * r);
        output g_add_ba_a = grad(l_add_ba, a);
        output g_add_ba_b = grad(l_add_ba, b);
        output l_add_cd = sum((c + d) * r);
        output g_add_cd_c = grad(l_add_cd, c);
        output g_add_cd_d = grad(l_add_cd, d);
        output l_add_as = sum((a + s) * r);
        output g_add_as_a = grad(l_add_as, a);
        output g_add_as_s = grad(l_add_as, s);
        output l_add_k = sum(add(a, 2.0) * r);
        output g_add_k = grad(l_add_k, a);
        output l_sub_ab = sum((a - b) * r);
        output g_sub_ab_a = grad(l_sub_ab, a);
        output g_sub_ab_b = grad(l_sub_ab, b);
        output l_sub_ba = sum(sub(b, a) * r);
        output g_sub_ba_a = grad(l_sub_ba, a);
        output g_sub_ba_b = grad(l_sub_ba, b);
        output l_sub_dc = sum((d - c) * r);
        output g_sub_dc_c = grad(l_sub_dc, c);
        output g_sub_dc_d = grad(l_sub_dc, d);
        output l_sub_sa = sum((s - a) * r);
        output g_sub_sa_a = grad(l_sub_sa, a);
        output g_sub_sa_s = grad(l_sub_sa, s);
        output l_sub_k = sum((1.0 - a) * r);
        output g_sub_k = grad(l_sub_k, a);
        output l_mul_ab = sum((a * b) * r);
        output g_mul_ab_a = grad(l_mul_ab, a);
        output g_mul_ab_b = grad(l_mul_ab, b);
        output l_mul_ba = sum(mul(b, a) * r);
        output g_mul_ba_a = grad(l_mul_ba, a);
        output g_mul_ba_b = grad(l_mul_ba, b);
        output l_mul_cd = sum((c * d) * r);
        output g_mul_cd_c = grad(l_mul_cd, c);
        output g_mul_cd_d = grad(l_mul_cd, d);
        output l_mul_as = sum((a * s) * r);
        output g_mul_as_a = grad(l_mul_as, a);
        output g_mul_as_s = grad(l_mul_as, s);
        output l_mul_k = sum((3.0 * a) * r);
        output g_mul_k = grad(l_mul_k, a);
        output l_div_ab = sum((a / b) * r);
        output g_div_ab_a = grad(l_div_ab, a);
        output g_div_ab_b = grad(l_div_ab, b);
        output l_div_ba = sum(div(b, a) * r);
        output g_div_ba_a = grad(l_div_ba, a);
        output g_div_ba_b = grad(l_div_ba, b);
        output l_div_cd = sum((c / d) * r);
        output g_div_cd_c = grad(l_div_cd, c);
        output g_div_cd_d = grad(l_div_cd, d);
        output l_div_sa = sum((s / a) * r);
        output g_div_sa_a = grad(l_div_sa, a);
        output g_div_sa_s = grad(l_div_sa, s);
        output l_div_as = sum((a / s) * r);
        output g_div_as_a = grad(l_div_as, a);
        output g_div_as_s = grad(l_div_as, s);
        output l_div_ka = sum((2.0 / a) * r);
        output g_div_ka = grad(l_div_ka, a);
        output l_div_ak = sum((a / 4.0) * r);
        output g_div_ak = grad(l_div_ak, a);
        output l_add_ef = sum((e + f) * r3);
        output g_add_ef_e = grad(l_add_ef, e);
        output g_add_ef_f = grad(l_add_ef, f);
        output l_sub_ef = sum((e - f) * r3);
        output g_sub_ef_e = grad(l_sub_ef, e);
        output g_sub_ef_f = grad(l_sub_ef, f);
        output l_mul_ef = sum((e * f) * r3);
        output g_mul_ef_e = grad(l_mul_ef, e);
        output g_mul_ef_f = grad(l_mul_ef, f);
        output l_div_ef = sum((e / f) * r3);
        output g_div_ef_e = grad(l_div_ef, e);
        output g_div_ef_f = grad(l_div_ef, f);
        output l_scalar = s * s / (s + 3.0);
        output g_scalar = grad(l_scalar, s);
    }
}

#[test]
fn arithmetic_with_broadcasting() {
    const A: usize = 0;
    const B: usize = 1;
    const C: usize = 2;
    const D: usize = 3;
    const S: usize = 4;
    const E: usize = 5;
    const F: usize = 6;
    const R: usize = 7;
    const R3: usize = 8;
    let ops: [(&str, Binary); 4] = [
        ("+", |x, y| x + y),
        ("-", |x, y| x - y),
        ("*", |x, y| x * y),
        ("/", |x, y| x / y),
    ];
    for n in [1, 3] {
        let mut rng = Rng::new(0x20 + n as u64);
        let a = rng.nonzero(&[n, 4]);
        let b = rng.nonzero(&[4]);
        let c = rng.nonzero(&[n, 1]);
        let d = rng.nonzero(&[1, 4]);
        let s = rng.nonzero(&[]);
        let e = rng.nonzero(&[2, 1, 3]);
        let f = rng.nonzero(&[4, 1]);
        let r = rng.uniform(&[n, 4], -1.0, 1.0);
        let r3 = rng.uniform(&[2, 4, 3], -1.0, 1.0);
        let o = Arithmetic::new()
            .run(
                view(&a),
                view(&b),
                view(&c),
                view(&d),
                scalar(&s),
                view(&e),
                view(&f),
                view(&r),
                view(&r3),
            )
            .unwrap();
        let t = [&a, &b, &c, &d, &s, &e, &f, &r, &r3].map(f64s);
        // The loss Σ op(t[x], t[y])·t[w].
        let binary = |op: Binary, x: usize, y: usize, w: usize| {
            move |t: &[T]| dot(&rf::zip(&t[x], &t[y], op), &t[w])
        };
        let name = |what: &str| format!("{what} (n = {n})");
        let [add, sub, mul, div] = ops.map(|(_, op)| op);
        check(
            &name("a + b"),
            &t,
            o.l_add_ab,
            g![A => o.g_add_ab_a, B => o.g_add_ab_b],
            binary(add, A, B, R),
        );
        check(
            &name("b + a"),
            &t,
            o.l_add_ba,
            g![A => o.g_add_ba_a, B => o.g_add_ba_b],
            binary(add, B, A, R),
        );
        check(
            &name("c + d"),
            &t,
            o.l_add_cd,
            g![C => o.g_add_cd_c, D => o.g_add_cd_d],
            binary(add, C, D, R),
        );
        check(
            &name("a + s"),
            &t,
            o.l_add_as,
            g![A => o.g_add_as_a, S => o.g_add_as_s],
            binary(add, A, S, R),
        );
        let k = |v: f64, op: Binary, left: bool| {
            move |t: &[T]| {
                dot(
                    &t[A].mapv(|x| if left { op(v, x) } else { op(x, v) }),
                    &t[R],
                )
            }
        };
        check(
            &name("add(a, 2)"),
            &t,
            o.l_add_k,
            g![A => o.g_add_k],
            k(2.0, add, false),
        );
        check(
            &name("a - b"),
            &t,
            o.l_sub_ab,
            g![A => o.g_sub_ab_a, B => o.g_sub_ab_b],
            binary(sub, A, B, R),
        );
        check(
            &name("sub(b, a)"),
            &t,
            o.l_sub_ba,
            g![A => o.g_sub_ba_a, B => o.g_sub_ba_b],
            binary(sub, B, A, R),
        );
        check(
            &name("d - c"),
            &t,
            o.l_sub_dc,
            g![C => o.g_sub_dc_c, D => o.g_sub_dc_d],
            binary(sub, D, C, R),
        );
        check(
            &name("s - a"),
            &t,
            o.l_sub_sa,
            g![A => o.g_sub_sa_a, S => o.g_sub_sa_s],
            binary(sub, S, A, R),
        );
        check(
            &name("1 - a"),
            &t,
            o.l_sub_k,
            g![A => o.g_sub_k],
            k(1.0, sub, true),
        );
        check(
            &name("a * b"),
            &t,
            o.l_mul_ab,
            g![A => o.g_mul_ab_a, B => o.g_mul_ab_b],
            binary(mul, A, B, R),
        );
        check(
            &name("mul(b, a)"),
            &t,
            o.l_mul_ba,
            g![A => o.g_mul_ba_a, B => o.g_mul_ba_b],
            binary(mul, B, A, R),
        );
        check(
            &name("c * d"),
            &t,
            o.l_mul_cd,
            g![C => o.g_mul_cd_c, D => o.g_mul_cd_d],
            binary(mul, C, D, R),
        );
        check(
            &name("a * s"),
            &t,
            o.l_mul_as,
            g![A => o.g_mul_as_a, S => o.g_mul_as_s],
            binary(mul, A, S, R),
        );
        check(
            &name("3 * a"),
            &t,
            o.l_mul_k,
            g![A => o.g_mul_k],
            k(3.0, mul, true),
        );
        check(
            &name("a / b"),
            &t,
            o.l_div_ab,
            g![A => o.g_div_ab_a, B => o.g_div_ab_b],
            binary(div, A, B, R),
        );
        check(
            &name("div(b, a)"),
            &t,
            o.l_div_ba,
            g![A => o.g_div_ba_a, B => o.g_div_ba_b],
            binary(div, B, A, R),
        );
        check(
            &name("c / d"),
            &t,
            o.l_div_cd,
            g![C => o.g_div_cd_c, D => o.g_div_cd_d],
            binary(div, C, D, R),
        );
        check(
            &name("s / a"),
            &t,
            o.l_div_sa,
            g![A => o.g_div_sa_a, S => o.g_div_sa_s],
            binary(div, S, A, R),
        );
        check(
            &name("a / s"),
            &t,
            o.l_div_as,
            g![A => o.g_div_as_a, S => o.g_div_as_s],
            binary(div, A, S, R),
        );
        check(
            &name("2 / a"),
            &t,
            o.l_div_ka,
            g![A => o.g_div_ka],
            k(2.0, div, true),
        );
        check(
            &name("a / 4"),
            &t,
            o.l_div_ak,
            g![A => o.g_div_ak],
            k(4.0, div, false),
        );
        check(
            &name("e + f"),
            &t,
            o.l_add_ef,
            g![E => o.g_add_ef_e, F => o.g_add_ef_f],
            binary(add, E, F, R3),
        );
        check(
            &name("e - f"),
            &t,
            o.l_sub_ef,
            g![E => o.g_sub_ef_e, F => o.g_sub_ef_f],
            binary(sub, E, F, R3),
        );
        check(
            &name("e * f"),
            &t,
            o.l_mul_ef,
            g![E => o.g_mul_ef_e, F => o.g_mul_ef_f],
            binary(mul, E, F, R3),
        );
        check(
            &name("e / f"),
            &t,
            o.l_div_ef,
            g![E => o.g_div_ef_e, F => o.g_div_ef_f],
            binary(div, E, F, R3),
        );
        let scalar_loss = |t: &[T]| {
            let s = rf::at(&t[S], &[]);
            s * s / (s + 3.0)
        };
        check(
            &name("s * s / (s + 3)"),
            &t,
            o.l_scalar,
            g![S => o.g_scalar],
            scalar_loss,
        );
    }
    report("arithmetic_with_broadcasting");
}

graph! {
    /// `maximum` and `minimum`, with broadcasting, scalars and constants.
    struct Extremes {
        input a: [n, 4];
        input b: [4];
        input c: [n, 1];
        input d: [1, 4];
        input s: [];
        input r: [n, 4];
        output l_max_ab = sum(maximum(a, b) * r);
        output g_max_ab_a = grad(l_max_ab, a);
        output g_max_ab_b = grad(l_max_ab, b);
        output l_max_ba = sum(maximum(b, a) * r);
        output g_max_ba_a = grad(l_max_ba, a);
        output g_max_ba_b = grad(l_max_ba, b);
        output l_max_cd = sum(maximum(c, d) * r);
        output g_max_cd_c = grad(l_max_cd, c);
        output g_max_cd_d = grad(l_max_cd, d);
        output l_max_as = sum(maximum(a, s) * r);
        output g_max_as_a = grad(l_max_as, a);
        output g_max_as_s = grad(l_max_as, s);
        output l_max_k = sum(maximum(a, 0.3) * r);
        output g_max_k = grad(l_max_k, a);
        output l_min_ab = sum(minimum(a, b) * r);
        output g_min_ab_a = grad(l_min_ab, a);
        output g_min_ab_b = grad(l_min_ab, b);
        output l_min_dc = sum(minimum(d, c) * r);
        output g_min_dc_c = grad(l_min_dc, c);
        output g_min_dc_d = grad(l_min_dc, d);
        output l_min_sa = sum(minimum(s, a) * r);
        output g_min_sa_a = grad(l_min_sa, a);
        output g_min_sa_s = grad(l_min_sa, s);
        output l_min_k = sum(a.minimum(-0.2) * r);
        output g_min_k = grad(l_min_k, a);
    }
}

#[test]
fn maximum_and_minimum_with_broadcasting() {
    const A: usize = 0;
    const B: usize = 1;
    const C: usize = 2;
    const D: usize = 3;
    const S: usize = 4;
    const R: usize = 5;
    let (max, min): (Binary, Binary) = (f64::max, f64::min);
    for n in [1, 3] {
        let mut rng = Rng::new(0x30 + n as u64);
        // Offsets 1/4, 3/4 and 1/2 eighths: no two operands closer than
        // 1/32, and the constants 0.3 and -0.2 fall between grid points.
        let a = rng.grid(&[n, 4], 0.25);
        let b = rng.grid(&[4], 0.75);
        let c = rng.grid(&[n, 1], 0.25);
        let d = rng.grid(&[1, 4], 0.75);
        let s = rng.grid(&[], 0.5);
        let r = rng.uniform(&[n, 4], -1.0, 1.0);
        let o = Extremes::new()
            .run(view(&a), view(&b), view(&c), view(&d), scalar(&s), view(&r))
            .unwrap();
        let t = [&a, &b, &c, &d, &s, &r].map(f64s);
        let binary =
            |op: Binary, x: usize, y: usize| move |t: &[T]| dot(&rf::zip(&t[x], &t[y], op), &t[R]);
        let name = |what: &str| format!("{what} (n = {n})");
        check(
            &name("maximum(a, b)"),
            &t,
            o.l_max_ab,
            g![A => o.g_max_ab_a, B => o.g_max_ab_b],
            binary(max, A, B),
        );
        check(
            &name("maximum(b, a)"),
            &t,
            o.l_max_ba,
            g![A => o.g_max_ba_a, B => o.g_max_ba_b],
            binary(max, B, A),
        );
        check(
            &name("maximum(c, d)"),
            &t,
            o.l_max_cd,
            g![C => o.g_max_cd_c, D => o.g_max_cd_d],
            binary(max, C, D),
        );
        check(
            &name("maximum(a, s)"),
            &t,
            o.l_max_as,
            g![A => o.g_max_as_a, S => o.g_max_as_s],
            binary(max, A, S),
        );
        let k = lit(0.3);
        let with_k = move |t: &[T]| dot(&t[A].mapv(|x| x.max(k)), &t[R]);
        check(
            &name("maximum(a, 0.3)"),
            &t,
            o.l_max_k,
            g![A => o.g_max_k],
            with_k,
        );
        check(
            &name("minimum(a, b)"),
            &t,
            o.l_min_ab,
            g![A => o.g_min_ab_a, B => o.g_min_ab_b],
            binary(min, A, B),
        );
        check(
            &name("minimum(d, c)"),
            &t,
            o.l_min_dc,
            g![C => o.g_min_dc_c, D => o.g_min_dc_d],
            binary(min, D, C),
        );
        check(
            &name("minimum(s, a)"),
            &t,
            o.l_min_sa,
            g![A => o.g_min_sa_a, S => o.g_min_sa_s],
            binary(min, S, A),
        );
        let k = lit(-0.2);
        let with_k = move |t: &[T]| dot(&t[A].mapv(|x| x.min(k)), &t[R]);
        check(
            &name("a.minimum(-0.2)"),
            &t,
            o.l_min_k,
            g![A => o.g_min_k],
            with_k,
        );
    }
    report("maximum_and_minimum_with_broadcasting");
}

graph! {
    /// `select` with masks of every broadcast shape.
    struct Select {
        input m: [n, 4];
        input mb: [4];
        input a: [n, 4];
        input b: [4];
        input s: [];
        input r: [n, 4];
        output l_ab = sum(select(gt(m, 0.0), a, b) * r);
        output g_ab_a = grad(l_ab, a);
        output g_ab_b = grad(l_ab, b);
        output l_sa = sum(select(le(m, 0.0), s, a) * r);
        output g_sa_a = grad(l_sa, a);
        output g_sa_s = grad(l_sa, s);
        output l_mask = sum(select(lt(mb, 0.0), a, s) * r);
        output g_mask_a = grad(l_mask, a);
        output g_mask_s = grad(l_mask, s);
        output l_both = sum(select(gt(m, 0.0), a, a * 2.0) * r);
        output g_both = grad(l_both, a);
    }
}

#[test]
fn select_with_broadcasting() {
    const M: usize = 0;
    const MB: usize = 1;
    const A: usize = 2;
    const B: usize = 3;
    const S: usize = 4;
    const R: usize = 5;
    for n in [1, 3] {
        let mut rng = Rng::new(0x40 + n as u64);
        let m = rng.nonzero(&[n, 4]);
        let mb = rng.nonzero(&[4]);
        let a = rng.uniform(&[n, 4], -2.0, 2.0);
        let b = rng.uniform(&[4], -2.0, 2.0);
        let s = rng.uniform(&[], -2.0, 2.0);
        let r = rng.uniform(&[n, 4], -1.0, 1.0);
        let o = Select::new()
            .run(
                view(&m),
                view(&mb),
                view(&a),
                view(&b),
                scalar(&s),
                view(&r),
            )
            .unwrap();
        let t = [&m, &mb, &a, &b, &s, &r].map(f64s);
        // The masks are fixed: computed once, from the unperturbed inputs.
        let positive = t[M].mapv(|v| v > 0.0);
        let not_positive = t[M].mapv(|v| v <= 0.0);
        let negative = t[MB].mapv(|v| v < 0.0);
        let name = |what: &str| format!("{what} (n = {n})");
        let l_ab = |t: &[T]| dot(&rf::select(&positive, &t[A], &t[B]), &t[R]);
        check(
            &name("select(m > 0, a, b)"),
            &t,
            o.l_ab,
            g![A => o.g_ab_a, B => o.g_ab_b],
            l_ab,
        );
        let l_sa = |t: &[T]| dot(&rf::select(&not_positive, &t[S], &t[A]), &t[R]);
        check(
            &name("select(m <= 0, s, a)"),
            &t,
            o.l_sa,
            g![A => o.g_sa_a, S => o.g_sa_s],
            l_sa,
        );
        let l_mask = |t: &[T]| dot(&rf::select(&negative, &t[A], &t[S]), &t[R]);
        check(
            &name("select(mb < 0, a, s)"),
            &t,
            o.l_mask,
            g![A => o.g_mask_a, S => o.g_mask_s],
            l_mask,
        );
        let l_both = |t: &[T]| dot(&rf::select(&positive, &t[A], &(&t[A] * 2.0)), &t[R]);
        check(
            &name("select(m > 0, a, 2a)"),
            &t,
            o.l_both,
            g![A => o.g_both],
            l_both,
        );
    }
    report("select_with_broadcasting");
}

// ============================================================ reductions

graph! {
    /// `sum` and `mean` over one axis, several, all, with and without
    /// `keep_dims`, on a symbolic batch.
    struct SumMean {
        input x: [n, 3, 4];
        input r0: [3, 4];
        input r1: [n, 4];
        input r2: [n, 3];
        input r02: [3];
        input rn: [n];
        input r12k: [n, 1, 1];
        input rall: [];
        input rallk: [1, 1, 1];
        input r1k: [n, 1, 4];
        output l_sum0 = sum(sum(x, axis = 0) * r0);
        output g_sum0 = grad(l_sum0, x);
        output l_sum1 = sum(sum(x, 1) * r1);
        output g_sum1 = grad(l_sum1, x);
        output l_sum_last = sum(sum(x, axis = -1) * r2);
        output g_sum_last = grad(l_sum_last, x);
        output l_sum02 = sum(sum(x, axis = [0, 2]) * r02);
        output g_sum02 = grad(l_sum02, x);
        output l_sum_neg = sum(sum(x, axis = [-1, -2]) * rn);
        output g_sum_neg = grad(l_sum_neg, x);
        output l_sum12k = sum(sum(x, axis = [1, 2], keep_dims = true) * r12k);
        output g_sum12k = grad(l_sum12k, x);
        output l_sum_all = sum(x) * rall;
        output g_sum_all = grad(l_sum_all, x);
        output l_sum_allk = sum(sum(x, keep_dims = true) * rallk);
        output g_sum_allk = grad(l_sum_allk, x);
        output l_sum1k = sum(x.sum(axis = 1, keep_dims = true) * r1k);
        output g_sum1k = grad(l_sum1k, x);
        output l_mean0 = sum(mean(x, axis = 0) * r0);
        output g_mean0 = grad(l_mean0, x);
        output l_mean1 = sum(mean(x, 1) * r1);
        output g_mean1 = grad(l_mean1, x);
        output l_mean_last = sum(mean(x, axis = -1) * r2);
        output g_mean_last = grad(l_mean_last, x);
        output l_mean02 = sum(mean(x, axis = [0, 2]) * r02);
        output g_mean02 = grad(l_mean02, x);
        output l_mean_neg = sum(mean(x, axis = [-1, -2]) * rn);
        output g_mean_neg = grad(l_mean_neg, x);
        output l_mean12k = sum(mean(x, axis = [1, 2], keep_dims = true) * r12k);
        output g_mean12k = grad(l_mean12k, x);
        output l_mean_all = mean(x) * rall;
        output g_mean_all = grad(l_mean_all, x);
        output l_mean_allk = sum(mean(x, keep_dims = true) * rallk);
        output g_mean_allk = grad(l_mean_allk, x);
        output l_mean1k = sum(x.mean(axis = 1, keep_dims = true) * r1k);
        output g_mean1k = grad(l_mean1k, x);
    }
}

graph! {
    /// `max` and `min` in the same configurations, on distinct values.
    struct MaxMin {
        input x: [n, 3, 4];
        input r0: [3, 4];
        input r1: [n, 4];
        input r2: [n, 3];
        input r02: [3];
        input rn: [n];
        input r12k: [n, 1, 1];
        input rall: [];
        input rallk: [1, 1, 1];
        input r1k: [n, 1, 4];
        output l_max0 = sum(max(x, axis = 0) * r0);
        output g_max0 = grad(l_max0, x);
        output l_max1 = sum(max(x, 1) * r1);
        output g_max1 = grad(l_max1, x);
        output l_max_last = sum(max(x, axis = -1) * r2);
        output g_max_last = grad(l_max_last, x);
        output l_max02 = sum(max(x, axis = [0, 2]) * r02);
        output g_max02 = grad(l_max02, x);
        output l_max_neg = sum(max(x, axis = [-1, -2]) * rn);
        output g_max_neg = grad(l_max_neg, x);
        output l_max12k = sum(max(x, axis = [1, 2], keep_dims = true) * r12k);
        output g_max12k = grad(l_max12k, x);
        output l_max_all = max(x) * rall;
        output g_max_all = grad(l_max_all, x);
        output l_max_allk = sum(max(x, keep_dims = true) * rallk);
        output g_max_allk = grad(l_max_allk, x);
        output l_max1k = sum(x.max(axis = 1, keep_dims = true) * r1k);
        output g_max1k = grad(l_max1k, x);
        output l_min0 = sum(min(x, axis = 0) * r0);
        output g_min0 = grad(l_min0, x);
        output l_min1 = sum(min(x, 1) * r1);
        output g_min1 = grad(l_min1, x);
        output l_min_last = sum(min(x, axis = -1) * r2);
        output g_min_last = grad(l_min_last, x);
        output l_min02 = sum(min(x, axis = [0, 2]) * r02);
        output g_min02 = grad(l_min02, x);
        output l_min_neg = sum(min(x, axis = [-1, -2]) * rn);
        output g_min_neg = grad(l_min_neg, x);
        output l_min12k = sum(min(x, axis = [1, 2], keep_dims = true) * r12k);
        output g_min12k = grad(l_min12k, x);
        output l_min_all = min(x) * rall;
        output g_min_all = grad(l_min_all, x);
        output l_min_allk = sum(min(x, keep_dims = true) * rallk);
        output g_min_allk = grad(l_min_allk, x);
        output l_min1k = sum(x.min(axis = 1, keep_dims = true) * r1k);
        output g_min1k = grad(l_min1k, x);
    }
}

/// The weightings of the reduction graphs, in their input order after `x`:
/// axis 0, axis 1, the last axis, axes [0, 2], axes [-1, -2], axes [1, 2]
/// kept, all axes, all axes kept, axis 1 kept.
fn reduction_weights(rng: &mut Rng, n: usize) -> [ArrayD<f32>; 9] {
    let shapes: [&[usize]; 9] = [
        &[3, 4],
        &[n, 4],
        &[n, 3],
        &[3],
        &[n],
        &[n, 1, 1],
        &[],
        &[1, 1, 1],
        &[n, 1, 4],
    ];
    shapes.map(|shape| rng.uniform(shape, -1.0, 1.0))
}

/// The reference losses of the nine configurations, for one reduction
/// (`x` is `t[0]` and the weightings follow).
fn reduction_losses(reduce: fn(&T, &[usize], bool) -> T) -> [Loss; 9] {
    let configs: [(&'static [usize], bool); 9] = [
        (&[0], false),
        (&[1], false),
        (&[2], false),
        (&[0, 2], false),
        (&[1, 2], false),
        (&[1, 2], true),
        (&[0, 1, 2], false),
        (&[0, 1, 2], true),
        (&[1], true),
    ];
    let mut weight = 0;
    configs.map(|(axes, keep)| {
        weight += 1;
        let w = weight;
        Box::new(move |t: &[T]| dot(&reduce(&t[0], axes, keep), &t[w])) as Loss
    })
}

const REDUCTION_CONFIGS: [&str; 9] = [
    "axis 0",
    "axis 1",
    "axis -1",
    "axes [0, 2]",
    "axes [-1, -2]",
    "axes [1, 2] kept",
    "all axes",
    "all axes kept",
    "axis 1 kept",
];

#[test]
fn sum_and_mean() {
    for n in [1, 3] {
        let mut rng = Rng::new(0x50 + n as u64);
        let x = rng.uniform(&[n, 3, 4], -2.0, 2.0);
        let w = reduction_weights(&mut rng, n);
        let o = SumMean::new()
            .run(
                view(&x),
                view(&w[0]),
                view(&w[1]),
                view(&w[2]),
                view(&w[3]),
                view(&w[4]),
                view(&w[5]),
                scalar(&w[6]),
                view(&w[7]),
                view(&w[8]),
            )
            .unwrap();
        let mut t = vec![f64s(&x)];
        t.extend(w.iter().map(f64s));
        let sums = [
            (o.l_sum0, g![0 => o.g_sum0]),
            (o.l_sum1, g![0 => o.g_sum1]),
            (o.l_sum_last, g![0 => o.g_sum_last]),
            (o.l_sum02, g![0 => o.g_sum02]),
            (o.l_sum_neg, g![0 => o.g_sum_neg]),
            (o.l_sum12k, g![0 => o.g_sum12k]),
            (o.l_sum_all, g![0 => o.g_sum_all]),
            (o.l_sum_allk, g![0 => o.g_sum_allk]),
            (o.l_sum1k, g![0 => o.g_sum1k]),
        ];
        let means = [
            (o.l_mean0, g![0 => o.g_mean0]),
            (o.l_mean1, g![0 => o.g_mean1]),
            (o.l_mean_last, g![0 => o.g_mean_last]),
            (o.l_mean02, g![0 => o.g_mean02]),
            (o.l_mean_neg, g![0 => o.g_mean_neg]),
            (o.l_mean12k, g![0 => o.g_mean12k]),
            (o.l_mean_all, g![0 => o.g_mean_all]),
            (o.l_mean_allk, g![0 => o.g_mean_allk]),
            (o.l_mean1k, g![0 => o.g_mean1k]),
        ];
        for (op, results, losses) in [
            ("sum", sums, reduction_losses(rf::sum)),
            ("mean", means, reduction_losses(rf::mean)),
        ] {
            for ((config, (loss, grads)), reference) in
                REDUCTION_CONFIGS.iter().zip(results).zip(losses)
            {
                check(
                    &format!("{op} {config} (n = {n})"),
                    &t,
                    loss,
                    grads,
                    reference,
                );
            }
        }
    }
    report("sum_and_mean");
}

#[test]
fn max_and_min() {
    for n in [1, 3] {
        let mut rng = Rng::new(0x60 + n as u64);
        let x = rng.distinct(&[n, 3, 4]);
        let w = reduction_weights(&mut rng, n);
        let o = MaxMin::new()
            .run(
                view(&x),
                view(&w[0]),
                view(&w[1]),
                view(&w[2]),
                view(&w[3]),
                view(&w[4]),
                view(&w[5]),
                scalar(&w[6]),
                view(&w[7]),
                view(&w[8]),
            )
            .unwrap();
        let mut t = vec![f64s(&x)];
        t.extend(w.iter().map(f64s));
        let maxes = [
            (o.l_max0, g![0 => o.g_max0]),
            (o.l_max1, g![0 => o.g_max1]),
            (o.l_max_last, g![0 => o.g_max_last]),
            (o.l_max02, g![0 => o.g_max02]),
            (o.l_max_neg, g![0 => o.g_max_neg]),
            (o.l_max12k, g![0 => o.g_max12k]),
            (o.l_max_all, g![0 => o.g_max_all]),
            (o.l_max_allk, g![0 => o.g_max_allk]),
            (o.l_max1k, g![0 => o.g_max1k]),
        ];
        let mins = [
            (o.l_min0, g![0 => o.g_min0]),
            (o.l_min1, g![0 => o.g_min1]),
            (o.l_min_last, g![0 => o.g_min_last]),
            (o.l_min02, g![0 => o.g_min02]),
            (o.l_min_neg, g![0 => o.g_min_neg]),
            (o.l_min12k, g![0 => o.g_min12k]),
            (o.l_min_all, g![0 => o.g_min_all]),
            (o.l_min_allk, g![0 => o.g_min_allk]),
            (o.l_min1k, g![0 => o.g_min1k]),
        ];
        for (op, results, losses) in [
            ("max", maxes, reduction_losses(rf::max)),
            ("min", mins, reduction_losses(rf::min)),
        ] {
            for ((config, (loss, grads)), reference) in
                REDUCTION_CONFIGS.iter().zip(results).zip(losses)
            {
                check(
                    &format!("{op} {config} (n = {n})"),
                    &t,
                    loss,
                    grads,
                    reference,
                );
            }
        }
    }
    report("max_and_min");
}

graph! {
    /// `softmax`, `log_softmax` and `logsumexp` along each axis.
    struct SoftmaxFamily {
        input x: [n, 3, 4];
        input r: [n, 3, 4];
        input r0: [3, 4];
        input r1: [n, 4];
        input r2: [n, 3];
        input r0k: [1, 3, 4];
        input r1k: [n, 1, 4];
        input r2k: [n, 3, 1];
        output l_sm0 = sum(softmax(x, 0) * r);
        output g_sm0 = grad(l_sm0, x);
        output l_sm1 = sum(softmax(x, axis = 1) * r);
        output g_sm1 = grad(l_sm1, x);
        output l_sm2 = sum(softmax(x, axis = -1) * r);
        output g_sm2 = grad(l_sm2, x);
        output l_sm = sum(softmax(x) * r);
        output g_sm = grad(l_sm, x);
        output l_lsm0 = sum(log_softmax(x, axis = 0) * r);
        output g_lsm0 = grad(l_lsm0, x);
        output l_lsm1 = sum(log_softmax(x, axis = -2) * r);
        output g_lsm1 = grad(l_lsm1, x);
        output l_lsm2 = sum(log_softmax(x, 2) * r);
        output g_lsm2 = grad(l_lsm2, x);
        output l_lsm = sum(x.log_softmax() * r);
        output g_lsm = grad(l_lsm, x);
        output l_lse0 = sum(logsumexp(x, axis = 0) * r0);
        output g_lse0 = grad(l_lse0, x);
        output l_lse1 = sum(logsumexp(x, axis = 1) * r1);
        output g_lse1 = grad(l_lse1, x);
        output l_lse2 = sum(logsumexp(x, axis = -1) * r2);
        output g_lse2 = grad(l_lse2, x);
        output l_lse = sum(logsumexp(x) * r2);
        output g_lse = grad(l_lse, x);
        output l_lse0k = sum(logsumexp(x, axis = 0, keep_dims = true) * r0k);
        output g_lse0k = grad(l_lse0k, x);
        output l_lse1k = sum(logsumexp(x, axis = -2, keep_dims = true) * r1k);
        output g_lse1k = grad(l_lse1k, x);
        output l_lse2k = sum(logsumexp(x, axis = 2, keep_dims = true) * r2k);
        output g_lse2k = grad(l_lse2k, x);
        // Logits beyond ±100: the stable forms, and their gradients, must not
        // overflow where e^x does.
        output l_sm_big = sum(softmax(x * 100.0, axis = 1) * r);
        output g_sm_big = grad(l_sm_big, x);
        output l_lsm_big = sum(log_softmax(x * 100.0) * r);
        output g_lsm_big = grad(l_lsm_big, x);
        output l_lse_big = sum(logsumexp(x * 100.0, axis = 0) * r0);
        output g_lse_big = grad(l_lse_big, x);
    }
}

#[test]
fn softmax_log_softmax_logsumexp() {
    const X: usize = 0;
    const R: usize = 1;
    for n in [1, 3] {
        let mut rng = Rng::new(0x70 + n as u64);
        let x = rng.distinct(&[n, 3, 4]).mapv(|v| v * 0.5 + 0.25);
        let x = x.mapv(|v| narrow(f64::from(v).clamp(-3.0, 3.0)));
        let r = rng.uniform(&[n, 3, 4], -1.0, 1.0);
        let shapes: [&[usize]; 6] = [
            &[3, 4],
            &[n, 4],
            &[n, 3],
            &[1, 3, 4],
            &[n, 1, 4],
            &[n, 3, 1],
        ];
        let w = shapes.map(|shape| rng.uniform(shape, -1.0, 1.0));
        let o = SoftmaxFamily::new()
            .run(
                view(&x),
                view(&r),
                view(&w[0]),
                view(&w[1]),
                view(&w[2]),
                view(&w[3]),
                view(&w[4]),
                view(&w[5]),
            )
            .unwrap();
        let mut t = vec![f64s(&x), f64s(&r)];
        t.extend(w.iter().map(f64s));
        let name = |what: &str| format!("{what} (n = {n})");
        let sm = |axis: usize, scale: f64| {
            move |t: &[T]| dot(&rf::softmax(&(&t[X] * scale), axis), &t[R])
        };
        let lsm = |axis: usize, scale: f64| {
            move |t: &[T]| dot(&rf::log_softmax(&(&t[X] * scale), axis), &t[R])
        };
        let lse = |axis: usize, keep: bool, w: usize, scale: f64| {
            move |t: &[T]| dot(&rf::logsumexp(&(&t[X] * scale), axis, keep), &t[w])
        };
        check(
            &name("softmax axis 0"),
            &t,
            o.l_sm0,
            g![X => o.g_sm0],
            sm(0, 1.0),
        );
        check(
            &name("softmax axis 1"),
            &t,
            o.l_sm1,
            g![X => o.g_sm1],
            sm(1, 1.0),
        );
        check(
            &name("softmax axis -1"),
            &t,
            o.l_sm2,
            g![X => o.g_sm2],
            sm(2, 1.0),
        );
        check(
            &name("softmax default"),
            &t,
            o.l_sm,
            g![X => o.g_sm],
            sm(2, 1.0),
        );
        check(
            &name("log_softmax axis 0"),
            &t,
            o.l_lsm0,
            g![X => o.g_lsm0],
            lsm(0, 1.0),
        );
        check(
            &name("log_softmax axis -2"),
            &t,
            o.l_lsm1,
            g![X => o.g_lsm1],
            lsm(1, 1.0),
        );
        check(
            &name("log_softmax axis 2"),
            &t,
            o.l_lsm2,
            g![X => o.g_lsm2],
            lsm(2, 1.0),
        );
        check(
            &name("log_softmax default"),
            &t,
            o.l_lsm,
            g![X => o.g_lsm],
            lsm(2, 1.0),
        );
        check(
            &name("logsumexp axis 0"),
            &t,
            o.l_lse0,
            g![X => o.g_lse0],
            lse(0, false, 2, 1.0),
        );
        check(
            &name("logsumexp axis 1"),
            &t,
            o.l_lse1,
            g![X => o.g_lse1],
            lse(1, false, 3, 1.0),
        );
        check(
            &name("logsumexp axis -1"),
            &t,
            o.l_lse2,
            g![X => o.g_lse2],
            lse(2, false, 4, 1.0),
        );
        check(
            &name("logsumexp default"),
            &t,
            o.l_lse,
            g![X => o.g_lse],
            lse(2, false, 4, 1.0),
        );
        check(
            &name("logsumexp axis 0 kept"),
            &t,
            o.l_lse0k,
            g![X => o.g_lse0k],
            lse(0, true, 5, 1.0),
        );
        check(
            &name("logsumexp axis -2 kept"),
            &t,
            o.l_lse1k,
            g![X => o.g_lse1k],
            lse(1, true, 6, 1.0),
        );
        check(
            &name("logsumexp axis 2 kept"),
            &t,
            o.l_lse2k,
            g![X => o.g_lse2k],
            lse(2, true, 7, 1.0),
        );
        check(
            &name("softmax of 100x axis 1"),
            &t,
            o.l_sm_big,
            g![X => o.g_sm_big],
            sm(1, lit(100.0)),
        );
        check(
            &name("log_softmax of 100x"),
            &t,
            o.l_lsm_big,
            g![X => o.g_lsm_big],
            lsm(2, lit(100.0)),
        );
        check(
            &name("logsumexp of 100x axis 0"),
            &t,
            o.l_lse_big,
            g![X => o.g_lse_big],
            lse(0, false, 2, lit(100.0)),
        );
    }
    report("softmax_log_softmax_logsumexp");
}

// ============================================================ losses

graph! {
    /// `mse` and both forms of `softmax_cross_entropy`.
    struct Losses {
        input p: [n, 5];
        input t: [n, 5];
        input l: [n, 5];
        input y: [n, 5];
        input labels: [n] as usize;
        input rs: [];
        input rn: [n];
        input p3: [2, 3, 2];
        input t3: [2, 3, 2];
        output l_mse = mse(p, t) * rs;
        output g_mse_p = grad(l_mse, p);
        output g_mse_t = grad(l_mse, t);
        output l_mse3 = mse(p3, t3);
        output g_mse3_p = grad(l_mse3, p3);
        output g_mse3_t = grad(l_mse3, t3);
        output l_ce = sum(softmax_cross_entropy(l, y) * rn);
        output g_ce_l = grad(l_ce, l);
        output g_ce_y = grad(l_ce, y);
        output l_ce_mean = mean(softmax_cross_entropy(l, y));
        output g_ce_mean_l = grad(l_ce_mean, l);
        output g_ce_mean_y = grad(l_ce_mean, y);
        output l_ce_idx = sum(softmax_cross_entropy(l, labels) * rn);
        output g_ce_idx = grad(l_ce_idx, l);
        output l_ce_idx_mean = mean(softmax_cross_entropy(l, labels));
        output g_ce_idx_mean = grad(l_ce_idx_mean, l);
        output l_size = sum(square(p) * t) / size(p, axis = 0);
        output g_size = grad(l_size, p);
        output l_one_hot = sum(log_softmax(l) * one_hot(labels, 5)) * rs;
        output g_one_hot = grad(l_one_hot, l);
    }
}

#[test]
fn mse_and_cross_entropy() {
    const P: usize = 0;
    const TT: usize = 1;
    const L: usize = 2;
    const Y: usize = 3;
    const RS: usize = 4;
    const RN: usize = 5;
    const P3: usize = 6;
    const T3: usize = 7;
    for n in [1, 3] {
        let mut rng = Rng::new(0x80 + n as u64);
        let p = rng.uniform(&[n, 5], -2.0, 2.0);
        let t_ = rng.uniform(&[n, 5], -2.0, 2.0);
        let l = rng.uniform(&[n, 5], -3.0, 3.0);
        // Not normalised: the rule's Σ y factor matters.
        let y = rng.uniform(&[n, 5], 0.0, 0.6);
        let labels = rng.indices(&[n], 5);
        let rs = rng.uniform(&[], 0.5, 1.5);
        let rn = rng.uniform(&[n], -1.0, 1.0);
        let p3 = rng.uniform(&[2, 3, 2], -2.0, 2.0);
        let t3 = rng.uniform(&[2, 3, 2], -2.0, 2.0);
        let o = Losses::new()
            .run(
                view(&p),
                view(&t_),
                view(&l),
                view(&y),
                view(&labels),
                scalar(&rs),
                view(&rn),
                view(&p3),
                view(&t3),
            )
            .unwrap();
        let t = [&p, &t_, &l, &y, &rs, &rn, &p3, &t3].map(f64s);
        let name = |what: &str| format!("{what} (n = {n})");
        let mse = |t: &[T]| rf::mse(&t[P], &t[TT]) * rf::at(&t[RS], &[]);
        check(
            &name("mse * r"),
            &t,
            o.l_mse,
            g![P => o.g_mse_p, TT => o.g_mse_t],
            mse,
        );
        let mse3 = |t: &[T]| rf::mse(&t[P3], &t[T3]);
        check(
            &name("mse rank 3"),
            &t,
            o.l_mse3,
            g![P3 => o.g_mse3_p, T3 => o.g_mse3_t],
            mse3,
        );
        let ce = |t: &[T]| dot(&rf::cross_entropy(&t[L], &t[Y]), &t[RN]);
        check(
            &name("cross entropy, probabilities"),
            &t,
            o.l_ce,
            g![L => o.g_ce_l, Y => o.g_ce_y],
            ce,
        );
        let ce_mean = |t: &[T]| rf::mean(&rf::cross_entropy(&t[L], &t[Y]), &[0], false)[IxDyn(&[])];
        let grads = g![L => o.g_ce_mean_l, Y => o.g_ce_mean_y];
        check(
            &name("mean cross entropy, probabilities"),
            &t,
            o.l_ce_mean,
            grads,
            ce_mean,
        );
        let ce_idx = |t: &[T]| dot(&rf::cross_entropy_indices(&t[L], &labels), &t[RN]);
        check(
            &name("cross entropy, indices"),
            &t,
            o.l_ce_idx,
            g![L => o.g_ce_idx],
            ce_idx,
        );
        let ce_idx_mean =
            |t: &[T]| rf::mean(&rf::cross_entropy_indices(&t[L], &labels), &[0], false)[IxDyn(&[])];
        let grads = g![L => o.g_ce_idx_mean];
        check(
            &name("mean cross entropy, indices"),
            &t,
            o.l_ce_idx_mean,
            grads,
            ce_idx_mean,
        );
        // `size` is a count, not a function of `p`.
        let size = |t: &[T]| dot(&t[P].mapv(|v| v * v), &t[TT]) / n as f64;
        check(
            &name("sum(p²·t) / size(p, 0)"),
            &t,
            o.l_size,
            g![P => o.g_size],
            size,
        );
        let one_hot =
            |t: &[T]| -rf::cross_entropy_indices(&t[L], &labels).sum() * rf::at(&t[RS], &[]);
        check(
            &name("Σ log_softmax(l)·one_hot(labels)"),
            &t,
            o.l_one_hot,
            g![L => o.g_one_hot],
            one_hot,
        );
    }
    report("mse_and_cross_entropy");
}

// ============================================================ matmul

graph! {
    /// `matmul` on every rank pair; the 2 × 2 case both with an input and
    /// with a variable (packed) weight.
    struct Products {
        input u: [4];
        input v: [4];
        input m43: [4, 3];
        input m34: [3, 4];
        input a: [n, 4];
        input b3: [2, 3, 4];
        input c3: [2, 4, 5];
        input a3: [n, 3, 4];
        input m45: [4, 5];
        input c3n: [n, 4, 5];
        input rs: [];
        input r3: [3];
        input rn3: [n, 3];
        input r235: [2, 3, 5];
        input rn35: [n, 3, 5];
        var w: [4, 3];
        output l_11 = matmul(u, v) * rs;
        output g_11_u = grad(l_11, u);
        output g_11_v = grad(l_11, v);
        output l_12 = sum(matmul(u, m43) * r3);
        output g_12_u = grad(l_12, u);
        output g_12_m = grad(l_12, m43);
        output l_21 = sum(matmul(m34, u) * r3);
        output g_21_m = grad(l_21, m34);
        output g_21_u = grad(l_21, u);
        output l_22 = sum(matmul(a, m43) * rn3);
        output g_22_a = grad(l_22, a);
        output g_22_m = grad(l_22, m43);
        output l_22w = sum(a.matmul(w) * rn3);
        output g_22w_a = grad(l_22w, a);
        output g_22w_w = grad(l_22w, w);
        output l_33 = sum(matmul(b3, c3) * r235);
        output g_33_b = grad(l_33, b3);
        output g_33_c = grad(l_33, c3);
        output l_32 = sum(matmul(a3, m45) * rn35);
        output g_32_a = grad(l_32, a3);
        output g_32_m = grad(l_32, m45);
        output l_33n = sum(matmul(a3, c3n) * rn35);
        output g_33n_a = grad(l_33n, a3);
        output g_33n_c = grad(l_33n, c3n);
    }
}

#[test]
fn matmul_on_every_rank_pair() {
    const U: usize = 0;
    const V: usize = 1;
    const M43: usize = 2;
    const M34: usize = 3;
    const A: usize = 4;
    const B3: usize = 5;
    const C3: usize = 6;
    const A3: usize = 7;
    const M45: usize = 8;
    const C3N: usize = 9;
    const RS: usize = 10;
    const R3: usize = 11;
    const RN3: usize = 12;
    const R235: usize = 13;
    const RN35: usize = 14;
    const W: usize = 15;
    for n in [1, 3] {
        let mut rng = Rng::new(0x90 + n as u64);
        let shapes: [&[usize]; 16] = [
            &[4],
            &[4],
            &[4, 3],
            &[3, 4],
            &[n, 4],
            &[2, 3, 4],
            &[2, 4, 5],
            &[n, 3, 4],
            &[4, 5],
            &[n, 4, 5],
            &[],
            &[3],
            &[n, 3],
            &[2, 3, 5],
            &[n, 3, 5],
            &[4, 3],
        ];
        let x = shapes.map(|shape| rng.uniform(shape, -1.0, 1.0));
        let graph = Products::new(view::<f32, _>(&x[W]).to_owned()).unwrap();
        let o = graph
            .run(
                view(&x[U]),
                view(&x[V]),
                view(&x[M43]),
                view(&x[M34]),
                view(&x[A]),
                view(&x[B3]),
                view(&x[C3]),
                view(&x[A3]),
                view(&x[M45]),
                view(&x[C3N]),
                scalar(&x[RS]),
                view(&x[R3]),
                view(&x[RN3]),
                view(&x[R235]),
                view(&x[RN35]),
            )
            .unwrap();
        let t = x.each_ref().map(f64s);
        let product = |left: usize, right: usize, w: usize| {
            move |t: &[T]| dot(&rf::matmul(&t[left], &t[right]), &t[w])
        };
        let name = |what: &str| format!("{what} (n = {n})");
        check(
            &name("[4] x [4]"),
            &t,
            o.l_11,
            g![U => o.g_11_u, V => o.g_11_v],
            product(U, V, RS),
        );
        check(
            &name("[4] x [4, 3]"),
            &t,
            o.l_12,
            g![U => o.g_12_u, M43 => o.g_12_m],
            product(U, M43, R3),
        );
        check(
            &name("[3, 4] x [4]"),
            &t,
            o.l_21,
            g![M34 => o.g_21_m, U => o.g_21_u],
            product(M34, U, R3),
        );
        check(
            &name("[n, 4] x [4, 3]"),
            &t,
            o.l_22,
            g![A => o.g_22_a, M43 => o.g_22_m],
            product(A, M43, RN3),
        );
        let grads = g![A => o.g_22w_a, W => o.g_22w_w];
        check(
            &name("[n, 4] x var [4, 3]"),
            &t,
            o.l_22w,
            grads,
            product(A, W, RN3),
        );
        check(
            &name("[2, 3, 4] x [2, 4, 5]"),
            &t,
            o.l_33,
            g![B3 => o.g_33_b, C3 => o.g_33_c],
            product(B3, C3, R235),
        );
        check(
            &name("[n, 3, 4] x [4, 5]"),
            &t,
            o.l_32,
            g![A3 => o.g_32_a, M45 => o.g_32_m],
            product(A3, M45, RN35),
        );
        check(
            &name("[n, 3, 4] x [n, 4, 5]"),
            &t,
            o.l_33n,
            g![A3 => o.g_33n_a, C3N => o.g_33n_c],
            product(A3, C3N, RN35),
        );
    }
    report("matmul_on_every_rank_pair");
}

// ============================================================ movement

graph! {
    /// `reshape`, `transpose`/`permute` and `concat`.
    struct Rearrange {
        input x: [n, 2, 6];
        input m: [3, 4];
        input x3: [2, 3, 4];
        input a: [n, 2];
        input b: [n, 3];
        input k: [2, 4];
        input r_reshape: [n, 3, 4];
        input r_flat: [n, 12];
        input r_t: [4, 3];
        input r_t3: [4, 3, 2];
        input r_p: [3, 4, 2];
        input r_p2: [4, 2, 3];
        input r_c1: [n, 7];
        input r_c0: [5, 4];
        input r_c2: [2, 3, 8];
        output l_reshape = sum(reshape(x, [n, 3, 4]) * r_reshape);
        output g_reshape = grad(l_reshape, x);
        output l_flat = sum(reshape(x, [n, -1]) * r_flat);
        output g_flat = grad(l_flat, x);
        output l_t = sum(transpose(m) * r_t);
        output g_t = grad(l_t, m);
        output l_t3 = sum(transpose(x3) * r_t3);
        output g_t3 = grad(l_t3, x3);
        output l_p = sum(permute(x3, [1, 2, 0]) * r_p);
        output g_p = grad(l_p, x3);
        output l_p2 = sum(transpose(x3, axes = [2, 0, 1]) * r_p2);
        output g_p2 = grad(l_p2, x3);
        output l_c1 = sum(concat([a, b, a], axis = 1) * r_c1);
        output g_c1_a = grad(l_c1, a);
        output g_c1_b = grad(l_c1, b);
        output l_c0 = sum(concat([m, k]) * r_c0);
        output g_c0_m = grad(l_c0, m);
        output g_c0_k = grad(l_c0, k);
        output l_c2 = sum(concat([x3, exp(x3)], axis = -1) * r_c2);
        output g_c2 = grad(l_c2, x3);
    }
}

#[test]
fn reshape_transpose_permute_concat() {
    const X: usize = 0;
    const M: usize = 1;
    const X3: usize = 2;
    const A: usize = 3;
    const B: usize = 4;
    const K: usize = 5;
    for n in [1, 3] {
        let mut rng = Rng::new(0xA0 + n as u64);
        let shapes: [&[usize]; 15] = [
            &[n, 2, 6],
            &[3, 4],
            &[2, 3, 4],
            &[n, 2],
            &[n, 3],
            &[2, 4],
            &[n, 3, 4],
            &[n, 12],
            &[4, 3],
            &[4, 3, 2],
            &[3, 4, 2],
            &[4, 2, 3],
            &[n, 7],
            &[5, 4],
            &[2, 3, 8],
        ];
        let x = shapes.map(|shape| rng.uniform(shape, -1.0, 1.0));
        let o = Rearrange::new()
            .run(
                view(&x[0]),
                view(&x[1]),
                view(&x[2]),
                view(&x[3]),
                view(&x[4]),
                view(&x[5]),
                view(&x[6]),
                view(&x[7]),
                view(&x[8]),
                view(&x[9]),
                view(&x[10]),
                view(&x[11]),
                view(&x[12]),
                view(&x[13]),
                view(&x[14]),
            )
            .unwrap();
        let t = x.each_ref().map(f64s);
        let name = |what: &str| format!("{what} (n = {n})");
        let reshape = |t: &[T]| dot(&rf::reshape(&t[X], &[n, 3, 4]), &t[6]);
        check(
            &name("reshape [n, 3, 4]"),
            &t,
            o.l_reshape,
            g![X => o.g_reshape],
            reshape,
        );
        let flat = |t: &[T]| dot(&rf::reshape(&t[X], &[n, 12]), &t[7]);
        check(
            &name("reshape [n, -1]"),
            &t,
            o.l_flat,
            g![X => o.g_flat],
            flat,
        );
        let tr = |t: &[T]| dot(&rf::transpose(&t[M]), &t[8]);
        check(&name("transpose [3, 4]"), &t, o.l_t, g![M => o.g_t], tr);
        let tr3 = |t: &[T]| dot(&rf::transpose(&t[X3]), &t[9]);
        check(
            &name("transpose [2, 3, 4]"),
            &t,
            o.l_t3,
            g![X3 => o.g_t3],
            tr3,
        );
        let p = |t: &[T]| dot(&rf::permute(&t[X3], &[1, 2, 0]), &t[10]);
        check(&name("permute [1, 2, 0]"), &t, o.l_p, g![X3 => o.g_p], p);
        let p2 = |t: &[T]| dot(&rf::permute(&t[X3], &[2, 0, 1]), &t[11]);
        check(
            &name("transpose axes [2, 0, 1]"),
            &t,
            o.l_p2,
            g![X3 => o.g_p2],
            p2,
        );
        let c1 = |t: &[T]| dot(&rf::concat(&[&t[A], &t[B], &t[A]], 1), &t[12]);
        check(
            &name("concat [a, b, a] axis 1"),
            &t,
            o.l_c1,
            g![A => o.g_c1_a, B => o.g_c1_b],
            c1,
        );
        let c0 = |t: &[T]| dot(&rf::concat(&[&t[M], &t[K]], 0), &t[13]);
        check(
            &name("concat [m, k]"),
            &t,
            o.l_c0,
            g![M => o.g_c0_m, K => o.g_c0_k],
            c0,
        );
        let c2 = |t: &[T]| dot(&rf::concat(&[&t[X3], &t[X3].mapv(f64::exp)], 2), &t[14]);
        check(
            &name("concat [x, exp x] axis -1"),
            &t,
            o.l_c2,
            g![X3 => o.g_c2],
            c2,
        );
    }
    report("reshape_transpose_permute_concat");
}

graph! {
    /// `pad`: a gradient sliced back out of the padding, on every padded
    /// axis, with the batch axis symbolic and unpadded; through a max with
    /// the lowest-f32 padding of max-pooling, which never wins.
    struct Padding {
        input x: [n, 3, 4];
        input v: [5];
        input r_x: [n, 5, 7];
        input r_v: [8];
        input r_m: [n, 4];
        output l_x = sum(pad(x, [[0, 0], [2, 0], [1, 2]], value = 0.5) * r_x);
        output g_x = grad(l_x, x);
        output l_v = sum(pad(v, [[1, 2]], value = -2.0) * r_v);
        output g_v = grad(l_v, v);
        output l_m = sum(max(pad(x, [[0, 0], [1, 0], [0, 0]], value = -3.4028235e38), axis = 1) * r_m);
        output g_m = grad(l_m, x);
    }
}

#[test]
fn pad() {
    const X: usize = 0;
    const V: usize = 1;
    for n in [1, 3] {
        let mut rng = Rng::new(0xD0 + n as u64);
        let x = rng.uniform(&[n, 3, 4], -1.0, 1.0);
        let v = rng.uniform(&[5], -1.0, 1.0);
        let r_x = rng.uniform(&[n, 5, 7], -1.0, 1.0);
        let r_v = rng.uniform(&[8], -1.0, 1.0);
        let r_m = rng.uniform(&[n, 4], -1.0, 1.0);
        let o = Padding::new()
            .run(view(&x), view(&v), view(&r_x), view(&r_v), view(&r_m))
            .unwrap();
        let t = [&x, &v, &r_x, &r_v, &r_m].map(f64s);
        let name = |what: &str| format!("{what} (n = {n})");
        let px = |t: &[T]| dot(&rf::pad(&t[X], &[[0, 0], [2, 0], [1, 2]], 0.5), &t[2]);
        check(&name("pad x"), &t, o.l_x, g![X => o.g_x], px);
        let pv = |t: &[T]| dot(&rf::pad(&t[V], &[[1, 2]], -2.0), &t[3]);
        check(&name("pad v"), &t, o.l_v, g![V => o.g_v], pv);
        let lowest = f64::from(f32::MIN);
        let pm = |t: &[T]| {
            let padded = rf::pad(&t[X], &[[0, 0], [1, 0], [0, 0]], lowest);
            dot(&rf::max(&padded, &[1], false), &t[4])
        };
        check(&name("max of pad x"), &t, o.l_m, g![X => o.g_m], pm);
    }
    report("pad");
}

graph! {
    /// `slice`, `broadcast_to`, `expand_dims` and `squeeze`.
    struct Reshape {
        input x3: [2, 3, 4];
        input v: [3];
        input c: [3, 1];
        input m: [3, 4];
        input e: [3, 1, 4, 1];
        input r_s1: [2, 3, 2];
        input r_s2: [2, 2, 4];
        input r_s3: [2, 3, 2];
        input r_s4: [1, 3, 4];
        input r_b1: [n, 2, 3];
        input r_b2: [3, 4];
        input r_e0: [1, 3, 4];
        input r_e1: [3, 1, 4];
        input r_e2: [3, 4, 1];
        input r_q1: [3, 4, 1];
        input r_q: [3, 4];
        output l_s1 = sum(slice(x3, 2, 1, 3) * r_s1);
        output g_s1 = grad(l_s1, x3);
        output l_s2 = sum(slice(x3, axis = 1, start = -2, end = 3) * r_s2);
        output g_s2 = grad(l_s2, x3);
        output l_s3 = sum(slice(x3, -1, -3, -1) * r_s3);
        output g_s3 = grad(l_s3, x3);
        output l_s4 = sum(slice(x3, 0, 0, 1) * r_s4);
        output g_s4 = grad(l_s4, x3);
        output l_b1 = sum(broadcast_to(v, [n, 2, 3]) * r_b1);
        output g_b1 = grad(l_b1, v);
        output l_b2 = sum(broadcast_to(c, [3, 4]) * r_b2);
        output g_b2 = grad(l_b2, c);
        output l_e0 = sum(expand_dims(m, 0) * r_e0);
        output g_e0 = grad(l_e0, m);
        output l_e1 = sum(expand_dims(m, axis = 1) * r_e1);
        output g_e1 = grad(l_e1, m);
        output l_e2 = sum(expand_dims(m, -1) * r_e2);
        output g_e2 = grad(l_e2, m);
        output l_q1 = sum(squeeze(e, axis = 1) * r_q1);
        output g_q1 = grad(l_q1, e);
        output l_q = sum(squeeze(e) * r_q);
        output g_q = grad(l_q, e);
    }
}

#[test]
fn slice_broadcast_to_expand_dims_squeeze() {
    const X3: usize = 0;
    const V: usize = 1;
    const C: usize = 2;
    const M: usize = 3;
    const E: usize = 4;
    for n in [1, 3] {
        let mut rng = Rng::new(0xB0 + n as u64);
        let shapes: [&[usize]; 16] = [
            &[2, 3, 4],
            &[3],
            &[3, 1],
            &[3, 4],
            &[3, 1, 4, 1],
            &[2, 3, 2],
            &[2, 2, 4],
            &[2, 3, 2],
            &[1, 3, 4],
            &[n, 2, 3],
            &[3, 4],
            &[1, 3, 4],
            &[3, 1, 4],
            &[3, 4, 1],
            &[3, 4, 1],
            &[3, 4],
        ];
        let x = shapes.map(|shape| rng.uniform(shape, -1.0, 1.0));
        let o = Reshape::new()
            .run(
                view(&x[0]),
                view(&x[1]),
                view(&x[2]),
                view(&x[3]),
                view(&x[4]),
                view(&x[5]),
                view(&x[6]),
                view(&x[7]),
                view(&x[8]),
                view(&x[9]),
                view(&x[10]),
                view(&x[11]),
                view(&x[12]),
                view(&x[13]),
                view(&x[14]),
                view(&x[15]),
            )
            .unwrap();
        let t = x.each_ref().map(f64s);
        let name = |what: &str| format!("{what} (n = {n})");
        let sl = |axis: usize, start: isize, end: isize, w: usize| {
            move |t: &[T]| dot(&rf::slice(&t[X3], axis, start, end), &t[w])
        };
        check(
            &name("slice axis 2, 1..3"),
            &t,
            o.l_s1,
            g![X3 => o.g_s1],
            sl(2, 1, 3, 5),
        );
        check(
            &name("slice axis 1, -2..3"),
            &t,
            o.l_s2,
            g![X3 => o.g_s2],
            sl(1, -2, 3, 6),
        );
        check(
            &name("slice axis -1, -3..-1"),
            &t,
            o.l_s3,
            g![X3 => o.g_s3],
            sl(2, -3, -1, 7),
        );
        check(
            &name("slice axis 0, 0..1"),
            &t,
            o.l_s4,
            g![X3 => o.g_s4],
            sl(0, 0, 1, 8),
        );
        let b1 = |t: &[T]| dot(&rf::broadcast_to(&t[V], &[n, 2, 3]), &t[9]);
        check(
            &name("broadcast_to [3] -> [n, 2, 3]"),
            &t,
            o.l_b1,
            g![V => o.g_b1],
            b1,
        );
        let b2 = |t: &[T]| dot(&rf::broadcast_to(&t[C], &[3, 4]), &t[10]);
        check(
            &name("broadcast_to [3, 1] -> [3, 4]"),
            &t,
            o.l_b2,
            g![C => o.g_b2],
            b2,
        );
        let to = |which: usize, shape: &'static [usize], w: usize| {
            move |t: &[T]| dot(&rf::reshape(&t[which], shape), &t[w])
        };
        check(
            &name("expand_dims 0"),
            &t,
            o.l_e0,
            g![M => o.g_e0],
            to(M, &[1, 3, 4], 11),
        );
        check(
            &name("expand_dims 1"),
            &t,
            o.l_e1,
            g![M => o.g_e1],
            to(M, &[3, 1, 4], 12),
        );
        check(
            &name("expand_dims -1"),
            &t,
            o.l_e2,
            g![M => o.g_e2],
            to(M, &[3, 4, 1], 13),
        );
        check(
            &name("squeeze axis 1"),
            &t,
            o.l_q1,
            g![E => o.g_q1],
            to(E, &[3, 4, 1], 14),
        );
        check(
            &name("squeeze all"),
            &t,
            o.l_q,
            g![E => o.g_q],
            to(E, &[3, 4], 15),
        );
    }
    report("slice_broadcast_to_expand_dims_squeeze");
}

// ============================================================ nn

graph! {
    /// `batch_norm` (all five operands) and `layer_norm` (all three).
    struct Norms {
        input x: [n, 4];
        input mu: [4];
        input var: [4];
        input sc: [4];
        input off: [4];
        input r: [n, 4];
        input x3: [n, 2, 4];
        input r3: [n, 2, 4];
        input xl: [n, 5];
        input gamma: [5];
        input beta: [5];
        input rl: [n, 5];
        input xl3: [2, n, 5];
        input rl3: [2, n, 5];
        output l_bn = sum(batch_norm(x, mu, var, sc, off) * r);
        output g_bn_x = grad(l_bn, x);
        output g_bn_mu = grad(l_bn, mu);
        output g_bn_var = grad(l_bn, var);
        output g_bn_sc = grad(l_bn, sc);
        output g_bn_off = grad(l_bn, off);
        output l_bn3 = sum(batch_norm(x3, mu, var, sc, off, epsilon = 0.01) * r3);
        output g_bn3_x = grad(l_bn3, x3);
        output g_bn3_mu = grad(l_bn3, mu);
        output g_bn3_var = grad(l_bn3, var);
        output g_bn3_sc = grad(l_bn3, sc);
        output g_bn3_off = grad(l_bn3, off);
        output l_ln = sum(layer_norm(xl, gamma, beta) * rl);
        output g_ln_x = grad(l_ln, xl);
        output g_ln_gamma = grad(l_ln, gamma);
        output g_ln_beta = grad(l_ln, beta);
        output l_ln3 = sum(layer_norm(xl3, gamma, beta, epsilon = 0.0001) * rl3);
        output g_ln3_x = grad(l_ln3, xl3);
        output g_ln3_gamma = grad(l_ln3, gamma);
        output g_ln3_beta = grad(l_ln3, beta);
    }
}

#[test]
fn batch_norm_and_layer_norm() {
    const X: usize = 0;
    const MU: usize = 1;
    const VAR: usize = 2;
    const SC: usize = 3;
    const OFF: usize = 4;
    const R: usize = 5;
    const X3: usize = 6;
    const R3: usize = 7;
    const XL: usize = 8;
    const GAMMA: usize = 9;
    const BETA: usize = 10;
    const RL: usize = 11;
    const XL3: usize = 12;
    const RL3: usize = 13;
    for n in [1, 3] {
        let mut rng = Rng::new(0xC0 + n as u64);
        let x = rng.uniform(&[n, 4], -2.0, 2.0);
        let mu = rng.uniform(&[4], -0.5, 0.5);
        let var = rng.uniform(&[4], 0.2, 2.0);
        let sc = rng.uniform(&[4], 0.5, 1.5);
        let off = rng.uniform(&[4], -0.5, 0.5);
        let r = rng.uniform(&[n, 4], -1.0, 1.0);
        let x3 = rng.uniform(&[n, 2, 4], -2.0, 2.0);
        let r3 = rng.uniform(&[n, 2, 4], -1.0, 1.0);
        let xl = rng.uniform(&[n, 5], -2.0, 2.0);
        let gamma = rng.uniform(&[5], 0.5, 1.5);
        let beta = rng.uniform(&[5], -0.5, 0.5);
        let rl = rng.uniform(&[n, 5], -1.0, 1.0);
        let xl3 = rng.uniform(&[2, n, 5], -2.0, 2.0);
        let rl3 = rng.uniform(&[2, n, 5], -1.0, 1.0);
        let o = Norms::new()
            .run(
                view(&x),
                view(&mu),
                view(&var),
                view(&sc),
                view(&off),
                view(&r),
                view(&x3),
                view(&r3),
                view(&xl),
                view(&gamma),
                view(&beta),
                view(&rl),
                view(&xl3),
                view(&rl3),
            )
            .unwrap();
        let t = [
            &x, &mu, &var, &sc, &off, &r, &x3, &r3, &xl, &gamma, &beta, &rl, &xl3, &rl3,
        ]
        .map(f64s);
        let name = |what: &str| format!("{what} (n = {n})");
        let bn = |which: usize, w: usize, epsilon: f64| {
            move |t: &[T]| {
                dot(
                    &rf::batch_norm(&t[which], &t[MU], &t[VAR], &t[SC], &t[OFF], epsilon),
                    &t[w],
                )
            }
        };
        let grads = g![X => o.g_bn_x, MU => o.g_bn_mu, VAR => o.g_bn_var, SC => o.g_bn_sc, OFF => o.g_bn_off];
        check(
            &name("batch_norm [n, 4]"),
            &t,
            o.l_bn,
            grads,
            bn(X, R, lit(0.001)),
        );
        let grads = g![X3 => o.g_bn3_x, MU => o.g_bn3_mu, VAR => o.g_bn3_var, SC => o.g_bn3_sc, OFF => o.g_bn3_off];
        check(
            &name("batch_norm [n, 2, 4], epsilon 0.01"),
            &t,
            o.l_bn3,
            grads,
            bn(X3, R3, lit(0.01)),
        );
        let ln = |which: usize, w: usize, epsilon: f64| {
            move |t: &[T]| {
                dot(
                    &rf::layer_norm(&t[which], &t[GAMMA], &t[BETA], epsilon),
                    &t[w],
                )
            }
        };
        let grads = g![XL => o.g_ln_x, GAMMA => o.g_ln_gamma, BETA => o.g_ln_beta];
        check(
            &name("layer_norm [n, 5]"),
            &t,
            o.l_ln,
            grads,
            ln(XL, RL, lit(0.001)),
        );
        let grads = g![XL3 => o.g_ln3_x, GAMMA => o.g_ln3_gamma, BETA => o.g_ln3_beta];
        check(
            &name("layer_norm [2, n, 5], epsilon 1e-4"),
            &t,
            o.l_ln3,
            grads,
            ln(XL3, RL3, lit(0.0001)),
        );
    }
    report("batch_norm_and_layer_norm");
}

graph! {
    /// `gather` and `embedding` with repeated indices.
    struct Lookup {
        input table: [5, 3];
        input flat: [6];
        input idx: [n, 4] as usize;
        input idx1: [6] as usize;
        input r: [n, 4, 3];
        input r1: [n, 4];
        input r6: [6, 3];
        output l_gather = sum(gather(table, idx) * r);
        output g_gather = grad(l_gather, table);
        output l_embedding = sum(embedding(table, idx) * r);
        output g_embedding = grad(l_embedding, table);
        output l_flat = sum(gather(flat, idx) * r1);
        output g_flat = grad(l_flat, flat);
        output l_rows = sum(gather(table * table, idx1) * r6);
        output g_rows = grad(l_rows, table);
    }
}

#[test]
fn gather_and_embedding_with_repeated_indices() {
    const TABLE: usize = 0;
    const FLAT: usize = 1;
    const R: usize = 2;
    const R1: usize = 3;
    const R6: usize = 4;
    for n in [1, 3] {
        let mut rng = Rng::new(0xD0 + n as u64);
        let table = rng.uniform(&[5, 3], -1.0, 1.0);
        let flat = rng.uniform(&[6], -1.0, 1.0);
        // Four indices in 0..3 per row: some repeat, rows 3 and 4 unused.
        let idx = rng.indices(&[n, 4], 3);
        let idx1 = ArrayD::from_shape_vec(IxDyn(&[6]), vec![4, 0, 4, 2, 4, 0]).unwrap();
        let r = rng.uniform(&[n, 4, 3], -1.0, 1.0);
        let r1 = rng.uniform(&[n, 4], -1.0, 1.0);
        let r6 = rng.uniform(&[6, 3], -1.0, 1.0);
        let o = Lookup::new()
            .run(
                view(&table),
                view(&flat),
                view(&idx),
                view(&idx1),
                view(&r),
                view(&r1),
                view(&r6),
            )
            .unwrap();
        let t = [&table, &flat, &r, &r1, &r6].map(f64s);
        let name = |what: &str| format!("{what} (n = {n})");
        let gather = |t: &[T]| dot(&rf::gather(&t[TABLE], &idx), &t[R]);
        check(
            &name("gather"),
            &t,
            o.l_gather,
            g![TABLE => o.g_gather.clone()],
            gather,
        );
        check(
            &name("embedding"),
            &t,
            o.l_embedding,
            g![TABLE => o.g_embedding],
            gather,
        );
        // Rows no index names get exactly zero.
        for row in 3..5 {
            assert!(
                o.g_gather.row(row).iter().all(|&v| v == 0.0),
                "unused row {row}"
            );
        }
        let flat = |t: &[T]| dot(&rf::gather(&t[FLAT], &idx), &t[R1]);
        check(
            &name("gather from [6]"),
            &t,
            o.l_flat,
            g![FLAT => o.g_flat],
            flat,
        );
        let rows = |t: &[T]| dot(&rf::gather(&t[TABLE].mapv(|v| v * v), &idx1), &t[R6]);
        check(
            &name("gather of table²"),
            &t,
            o.l_rows,
            g![TABLE => o.g_rows],
            rows,
        );
    }
    report("gather_and_embedding_with_repeated_indices");
}

// ============================================================ ties and kinks

graph! {
    /// The documented conventions where the gradient is discontinuous.
    struct Ties {
        input x: [4];
        input y: [4];
        input m: [2, 3];
        input r: [4];
        input r2: [2];
        input s: [];
        output l_maximum = sum(maximum(x, y) * r);
        output g_maximum_x = grad(l_maximum, x);
        output g_maximum_y = grad(l_maximum, y);
        output l_minimum = sum(minimum(x, y) * r);
        output g_minimum_x = grad(l_minimum, x);
        output g_minimum_y = grad(l_minimum, y);
        output l_maximum_k = sum(maximum(x, 0.0) * r);
        output g_maximum_k = grad(l_maximum_k, x);
        output l_max_rows = sum(max(m, axis = 1) * r2);
        output g_max_rows = grad(l_max_rows, m);
        output l_min_all = min(m);
        output g_min_all = grad(l_min_all, m);
        output l_max_all = max(x);
        output g_max_all = grad(l_max_all, x);
        output l_relu = sum(relu(x) * r);
        output g_relu = grad(l_relu, x);
        output l_clip = sum(clip(x, -1.0, 2.0) * r);
        output g_clip = grad(l_clip, x);
        output l_max_s = sum(maximum(x, s) * r);
        output g_max_s_x = grad(l_max_s, x);
        output g_max_s_s = grad(l_max_s, s);
        output l_abs = sum(abs(x) * r);
        output g_abs = grad(l_abs, x);
        output l_leaky = sum(leaky_relu(x) * r);
        output g_leaky = grad(l_leaky, x);
        output l_elu = sum(elu(x, alpha = 0.5) * r);
        output g_elu = grad(l_elu, x);
        output l_hard = sum(hard_sigmoid(x, alpha = 0.25, beta = 0.5) * r);
        output g_hard = grad(l_hard, x);
    }
}

/// Ties split the gradient equally (as JAX), and kinks take JAX's value
/// (`docs/LANGUAGE.md`, "Gradients"; `docs/NUMERICS.md`, "Slopes"): worked
/// out by hand, every value exact in `f32`.
#[test]
fn ties_and_kinks_by_hand() {
    let x = Array1::from(vec![1.0, 2.0, -1.0, 2.0]);
    let y = Array1::from(vec![1.0, 0.0, 5.0, 2.0]);
    let m = staticflow::ndarray::array![[3.0, 1.0, 3.0], [-1.0, -1.0, 0.0]];
    let r = Array1::from(vec![2.0, 4.0, 8.0, 16.0]);
    let r2 = Array1::from(vec![0.5, 3.0]);
    let o = Ties::new()
        .run(x.view(), y.view(), m.view(), r.view(), r2.view(), 1.0)
        .unwrap();
    // maximum: x wins at 1, y at 2, a tie at 0 and 3 splits r in halves.
    assert_eq!(o.l_maximum, 2.0 + 8.0 + 40.0 + 32.0);
    assert_eq!(o.g_maximum_x, Array1::from(vec![1.0, 4.0, 0.0, 8.0]));
    assert_eq!(o.g_maximum_y, Array1::from(vec![1.0, 0.0, 8.0, 8.0]));
    // minimum: y wins at 1, x at 2, the same ties.
    assert_eq!(o.l_minimum, 2.0 + 0.0 - 8.0 + 32.0);
    assert_eq!(o.g_minimum_x, Array1::from(vec![1.0, 0.0, 8.0, 8.0]));
    assert_eq!(o.g_minimum_y, Array1::from(vec![1.0, 4.0, 0.0, 8.0]));
    // No tie against the constant here: x is never 0.
    assert_eq!(o.g_maximum_k, Array1::from(vec![2.0, 4.0, 0.0, 16.0]));
    // max over rows: row 0 ties at 3 (columns 0 and 2), row 1 has one max.
    assert_eq!(o.l_max_rows, 0.5 * 3.0 + 0.0);
    assert_eq!(
        o.g_max_rows,
        staticflow::ndarray::array![[0.25, 0.0, 0.25], [0.0, 0.0, 3.0]]
    );
    // min over everything: -1 twice.
    assert_eq!(o.l_min_all, -1.0);
    assert_eq!(
        o.g_min_all,
        staticflow::ndarray::array![[0.0, 0.0, 0.0], [0.5, 0.5, 0.0]]
    );
    // max over x: 2 twice.
    assert_eq!(o.l_max_all, 2.0);
    assert_eq!(o.g_max_all, Array1::from(vec![0.0, 0.5, 0.0, 0.5]));
    assert_eq!(o.g_relu, Array1::from(vec![2.0, 4.0, 0.0, 16.0]));
    // clip(x, -1, 2): at the bounds (x = -1, x = 2) the slope is 0.5.
    assert_eq!(o.g_clip, Array1::from(vec![2.0, 2.0, 4.0, 8.0]));
    // maximum(x, s) with s = 1 = x[0]: a tie against a broadcast scalar,
    // whose gradient sums its share of every element.
    assert_eq!(o.g_max_s_x, Array1::from(vec![1.0, 4.0, 0.0, 16.0]));
    assert_eq!(o.g_max_s_s, 1.0 + 8.0);

    // At 0 exactly: maximum(0, 0) splits, relu'(0) = 0.
    // The other kinks at 0 (`docs/NUMERICS.md`): abs'(±0) = 1,
    // leaky_relu'(±0) = 1, elu'(±0) = alpha, and hard_sigmoid' = 0 at both
    // corners (0.25·x + 0.5 is 0 at x = -2 and 1 at x = 2).
    let zero = Array1::from(vec![0.0, -0.0, 3.0, -3.0]);
    let o = Ties::new()
        .run(zero.view(), y.view(), m.view(), r.view(), r2.view(), 0.0)
        .unwrap();
    assert_eq!(o.g_maximum_k, Array1::from(vec![1.0, 2.0, 8.0, 0.0]));
    assert_eq!(o.g_relu, Array1::from(vec![0.0, 0.0, 8.0, 0.0]));
    assert_eq!(o.g_abs, Array1::from(vec![2.0, 4.0, 8.0, -16.0]));
    assert_eq!(o.g_leaky, Array1::from(vec![2.0, 4.0, 8.0, 0.2_f32 * 16.0]));
    assert_eq!(o.g_elu[[0]], 0.5 * 2.0);
    assert_eq!(o.g_elu[[1]], 0.5 * 4.0);
    assert_eq!(o.g_max_s_s, 1.0 + 2.0 + 16.0);
    let corners = Array1::from(vec![-2.0, 2.0, 1.0, -1.0]);
    let o = Ties::new()
        .run(corners.view(), y.view(), m.view(), r.view(), r2.view(), 0.0)
        .unwrap();
    assert_eq!(
        o.g_hard,
        Array1::from(vec![0.0, 0.0, 0.25 * 8.0, 0.25 * 16.0])
    );
}

// ============================================================ compositions

/// Compiles one graph body twice: `$opt` as usual and `$off` with
/// `#[optimize(off)]`, which the optimizer is held to.
macro_rules! twins {
    ($opt:ident, $off:ident { $($body:tt)* }) => {
        graph! {
            struct $opt { $($body)* }
        }
        graph! {
            #[optimize(off)]
            struct $off { $($body)* }
        }
    };
}

/// The op of every node of a DOT text (the last line of its label, up to
/// any attribute list), in order.
fn dot_ops(dot: &str) -> Vec<String> {
    dot.lines()
        .filter(|line| line.trim_start().starts_with('n') && !line.contains("->"))
        .filter_map(|line| {
            let label = line.split("label=\"").nth(1)?.split('"').next()?;
            let op = label.rsplit("\\n").next()?;
            Some(op.split('(').next()?.to_owned())
        })
        .collect()
}

fn count(ops: &[String], op: &str) -> usize {
    ops.iter().filter(|o| *o == op).count()
}

/// An optimized result against its `#[optimize(off)]` twin: equal to the
/// rounding of reordered `f32` sums (`1e-5` of the largest magnitude, as
/// `tests/optimizer.rs` bounds it); returns whether they are bit for bit
/// equal.
fn agree(name: &str, optimized: &ArrayD<f32>, reference: &ArrayD<f32>) -> bool {
    assert_eq!(optimized.shape(), reference.shape(), "{name}");
    let scale = reference.iter().fold(1.0_f32, |m, v| m.max(v.abs()));
    for (a, b) in optimized.iter().zip(reference) {
        assert!(
            (a - b).abs() <= 1e-5 * scale,
            "{name}: optimized {a:e}, #[optimize(off)] {b:e}"
        );
    }
    optimized
        .iter()
        .zip(reference)
        .all(|(a, b)| a.to_bits() == b.to_bits())
}

twins!(Twice, TwiceOff {
    input x: [n, 3];
    input r: [n, 3];
    var w: [3, 3];
    output l_twice = sum((x * x + exp(x) * x - x / (1.0 + square(x))) * r);
    output g_twice = grad(l_twice, x);
    output l_row = sum((matmul(x, w) + slice(w, 0, 0, 1)) * r);
    output g_row_x = grad(l_row, x);
    output g_row_w = grad(l_row, w);
    output l_outer = sum(x) * sum(x * r);
    output g_outer = grad(l_outer, x);
});

/// The twins are not vacuous: the reference is compiled as written, and
/// the optimized twin was rewritten (its `DOT` has nodes labelled
/// `marker`, such as `dense:` or `fused:`, which its `DOT_AS_WRITTEN` has
/// not).
fn rewritten(test: &str, optimized: (&str, &str), reference: (&str, &str), marker: &str) {
    assert_eq!(
        reference.0, reference.1,
        "{test}: the reference twin is as written"
    );
    assert!(
        optimized.0.contains(marker),
        "{test}: no `{marker}` node in {}",
        optimized.0
    );
    assert!(
        !optimized.1.contains(marker),
        "{test}: `{marker}` before optimizing"
    );
}

/// Every named field of a graph's outputs, by name, as dynamic-rank arrays
/// (scalars as 0-d), so that optimized and `#[optimize(off)]` twins, of
/// distinct types, go through the same checks.
macro_rules! results {
    ($outputs:expr; $($field:ident),* $(,)?) => {{
        let outputs = $outputs;
        let mut map = std::collections::BTreeMap::<&'static str, ArrayD<f32>>::new();
        $(map.insert(stringify!($field), Dyn::dyn_(outputs.$field));)*
        map
    }};
}

type Results = std::collections::BTreeMap<&'static str, ArrayD<f32>>;

/// Compares every result of an optimized twin with its reference twin;
/// returns the names of those equal bit for bit.
fn twins_agree(test: &str, optimized: &Results, reference: &Results) -> Vec<&'static str> {
    assert_eq!(
        optimized.keys().collect::<Vec<_>>(),
        reference.keys().collect::<Vec<_>>()
    );
    optimized
        .iter()
        .filter(|(name, value)| agree(&format!("{test}: {name}"), value, &reference[*name]))
        .map(|(name, _)| *name)
        .collect()
}

/// A value used several times: the gradients of its uses add up.
#[test]
fn a_value_used_twice() {
    const X: usize = 0;
    const R: usize = 1;
    const W: usize = 2;
    rewritten(
        "Twice",
        (Twice::DOT, Twice::DOT_AS_WRITTEN),
        (TwiceOff::DOT, TwiceOff::DOT_AS_WRITTEN),
        "fused:",
    );
    for n in [1, 3] {
        let mut rng = Rng::new(0xE0 + n as u64);
        let x = rng.uniform(&[n, 3], -1.5, 1.5);
        let r = rng.uniform(&[n, 3], -1.0, 1.0);
        let w = rng.uniform(&[3, 3], -1.0, 1.0);
        let owned = view::<f32, _>(&w).to_owned();
        let optimized = Twice::new(owned.clone())
            .unwrap()
            .run(view(&x), view(&r))
            .unwrap();
        let optimized =
            results!(optimized; l_twice, g_twice, l_row, g_row_x, g_row_w, l_outer, g_outer);
        let off = TwiceOff::new(owned)
            .unwrap()
            .run(view(&x), view(&r))
            .unwrap();
        let off = results!(off; l_twice, g_twice, l_row, g_row_x, g_row_w, l_outer, g_outer);
        let t = [&x, &r, &w].map(f64s);
        let twice = |t: &[T]| {
            let v = t[X].mapv(|x| x * x + x.exp() * x - x / (1.0 + x * x));
            dot(&v, &t[R])
        };
        let row = |t: &[T]| {
            let y = rf::zip(
                &rf::matmul(&t[X], &t[W]),
                &rf::slice(&t[W], 0, 0, 1),
                |a, b| a + b,
            );
            dot(&y, &t[R])
        };
        let outer = |t: &[T]| t[X].sum() * dot(&t[X], &t[R]);
        for (twin, o) in [("optimized", &optimized), ("#[optimize(off)]", &off)] {
            let name = |what: &str| format!("{what} ({twin}, n = {n})");
            let get = |field: &str| o[field].clone();
            let x_of = |field: &str| scalar(&o[field]);
            check(
                &name("x*x + exp(x)*x - x/(1 + x²)"),
                &t,
                x_of("l_twice"),
                vec![(X, get("g_twice"))],
                twice,
            );
            let grads = vec![(X, get("g_row_x")), (W, get("g_row_w"))];
            check(
                &name("matmul(x, w) + w[0:1]"),
                &t,
                x_of("l_row"),
                grads,
                row,
            );
            check(
                &name("sum(x)·sum(x·r)"),
                &t,
                x_of("l_outer"),
                vec![(X, get("g_outer"))],
                outer,
            );
        }
        let exact = twins_agree("a_value_used_twice", &optimized, &off);
        eprintln!("a_value_used_twice (n = {n}): bit-exact with #[optimize(off)]: {exact:?}");
    }
    report("a_value_used_twice");
}

twins!(Shared, SharedOff {
    input x: [n, 4];
    input r: [n, 4];
    var w: [4, 4];
    var b: [4];
    let h = tanh(matmul(x, w) + b);
    output loss = sum((matmul(h, w) + b) * r);
    output g_w = grad(loss, w);
    output g_b = grad(loss, b);
    output g_x = grad(loss, x);
});

/// One `w` and one `b` in two layers: each gets both layers' gradients.
#[test]
fn shared_parameters() {
    const X: usize = 0;
    const R: usize = 1;
    const W: usize = 2;
    const B: usize = 3;
    rewritten(
        "Shared",
        (Shared::DOT, Shared::DOT_AS_WRITTEN),
        (SharedOff::DOT, SharedOff::DOT_AS_WRITTEN),
        "dense:",
    );
    for n in [1, 3] {
        let mut rng = Rng::new(0xF0 + n as u64);
        let x = rng.uniform(&[n, 4], -1.5, 1.5);
        let r = rng.uniform(&[n, 4], -1.0, 1.0);
        let w = rng.uniform(&[4, 4], -1.0, 1.0);
        let b = rng.uniform(&[4], -0.5, 0.5);
        let (w_, b_) = (view::<f32, _>(&w).to_owned(), view::<f32, _>(&b).to_owned());
        let optimized = Shared::new(w_.clone(), b_.clone()).unwrap();
        let optimized = results!(optimized.run(view(&x), view(&r)).unwrap(); loss, g_w, g_b, g_x);
        let off = SharedOff::new(w_, b_).unwrap();
        let off = results!(off.run(view(&x), view(&r)).unwrap(); loss, g_w, g_b, g_x);
        let t = [&x, &r, &w, &b].map(f64s);
        let loss = |t: &[T]| {
            let h = rf::zip(&rf::matmul(&t[X], &t[W]), &t[B], |a, b| (a + b).tanh());
            dot(&rf::zip(&rf::matmul(&h, &t[W]), &t[B], |a, b| a + b), &t[R])
        };
        for (twin, o) in [("optimized", &optimized), ("#[optimize(off)]", &off)] {
            let grads = vec![
                (W, o["g_w"].clone()),
                (B, o["g_b"].clone()),
                (X, o["g_x"].clone()),
            ];
            check(
                &format!("shared w, b ({twin}, n = {n})"),
                &t,
                scalar(&o["loss"]),
                grads,
                loss,
            );
        }
        let exact = twins_agree("shared_parameters", &optimized, &off);
        eprintln!("shared_parameters (n = {n}): bit-exact with #[optimize(off)]: {exact:?}");
    }
    report("shared_parameters");
}

twins!(Mlp3, Mlp3Off {
    input x: [n, 5];
    input labels: [n] as usize;
    var w1: [5, 6];
    var b1: [6];
    var w2: [6, 4];
    var b2: [4];
    var w3: [4, 3];
    var b3: [3];
    let h1 = relu(matmul(x, w1) + b1);
    let h2 = tanh(matmul(h1, w2) + b2);
    let logits = matmul(h2, w3) + b3;
    output loss = mean(softmax_cross_entropy(logits, labels));
    output g_w1 = grad(loss, w1);
    output g_b1 = grad(loss, b1);
    output g_w2 = grad(loss, w2);
    output g_b2 = grad(loss, b2);
    output g_w3 = grad(loss, w3);
    output g_b3 = grad(loss, b3);
    output saliency = grad(loss, x);
});

/// The 3-layer MLP's loss in f64, and the smallest |pre-activation| of its
/// relu layer. `t` = [x, w1, b1, w2, b2, w3, b3].
fn mlp3(t: &[T], labels: &ArrayD<usize>) -> (f64, f64) {
    let add = |a: &T, b: &T| rf::zip(a, b, |x, y| x + y);
    let a1 = add(&rf::matmul(&t[0], &t[1]), &t[2]);
    let margin = a1.iter().fold(f64::INFINITY, |m, v| m.min(v.abs()));
    let h1 = a1.mapv(|v| v.max(0.0));
    let h2 = add(&rf::matmul(&h1, &t[3]), &t[4]).mapv(f64::tanh);
    let logits = add(&rf::matmul(&h2, &t[5]), &t[6]);
    let loss = rf::cross_entropy_indices(&logits, labels).mean().unwrap();
    (loss, margin)
}

/// A chain of three layers, differentiated with respect to every weight and
/// bias, and to the input (saliency); then two `grad`s of that one loss are
/// shown to share one backward pass.
#[test]
fn three_layer_mlp_and_saliency() {
    rewritten(
        "Mlp3",
        (Mlp3::DOT, Mlp3::DOT_AS_WRITTEN),
        (Mlp3Off::DOT, Mlp3Off::DOT_AS_WRITTEN),
        "dense:",
    );
    for n in [1, 3] {
        let mut rng = Rng::new(0x100 + n as u64);
        let shapes: [&[usize]; 7] = [&[n, 5], &[5, 6], &[6], &[6, 4], &[4], &[4, 3], &[3]];
        // Redraw until every relu pre-activation is 1e-2 from its kink.
        let (x, labels) = loop {
            let x = shapes.map(|shape| rng.uniform(shape, -1.0, 1.0));
            let labels = rng.indices(&[n], 3);
            if mlp3(&x.each_ref().map(f64s), &labels).1 > 1e-2 {
                break (x, labels);
            }
        };
        let p = |i: usize| x[i].clone();
        let optimized = Mlp3::new(
            view::<f32, _>(&p(1)).to_owned(),
            view::<f32, _>(&p(2)).to_owned(),
            view::<f32, _>(&p(3)).to_owned(),
            view::<f32, _>(&p(4)).to_owned(),
            view::<f32, _>(&p(5)).to_owned(),
            view::<f32, _>(&p(6)).to_owned(),
        )
        .unwrap();
        let off = Mlp3Off::new(
            view::<f32, _>(&p(1)).to_owned(),
            view::<f32, _>(&p(2)).to_owned(),
            view::<f32, _>(&p(3)).to_owned(),
            view::<f32, _>(&p(4)).to_owned(),
            view::<f32, _>(&p(5)).to_owned(),
            view::<f32, _>(&p(6)).to_owned(),
        )
        .unwrap();
        let optimized = optimized.run(view(&x[0]), view(&labels)).unwrap();
        let optimized = results!(optimized; loss, g_w1, g_b1, g_w2, g_b2, g_w3, g_b3, saliency);
        let off = off.run(view(&x[0]), view(&labels)).unwrap();
        let off = results!(off; loss, g_w1, g_b1, g_w2, g_b2, g_w3, g_b3, saliency);
        let t = x.each_ref().map(f64s);
        for (twin, o) in [("optimized", &optimized), ("#[optimize(off)]", &off)] {
            let names = ["saliency", "g_w1", "g_b1", "g_w2", "g_b2", "g_w3", "g_b3"];
            let grads = names
                .iter()
                .enumerate()
                .map(|(i, k)| (i, o[k].clone()))
                .collect();
            let loss = |t: &[T]| mlp3(t, &labels).0;
            check(
                &format!("3-layer MLP ({twin}, n = {n})"),
                &t,
                scalar(&o["loss"]),
                grads,
                loss,
            );
        }
        let exact = twins_agree("three_layer_mlp", &optimized, &off);
        eprintln!("three_layer_mlp (n = {n}): bit-exact with #[optimize(off)]: {exact:?}");
    }
    report("three_layer_mlp_and_saliency");

    // Seven gradients of one loss, one backward pass: as written, every
    // forward op appears once, and the backward pass has one matmul per
    // product's operand (two for each of the first-layer product's
    // operands would mean a pass per `grad`), one slope per activation and
    // one seed.
    for (graph, dot) in [
        ("as written", Mlp3::DOT_AS_WRITTEN),
        ("#[optimize(off)]", Mlp3Off::DOT),
    ] {
        let ops = dot_ops(dot);
        for (op, expected) in [
            ("relu", 1),
            ("tanh", 1),
            ("softmax_cross_entropy", 1),
            ("mean", 1),
            // 3 forward, 3 for the weights, 3 for h2, h1 and x.
            ("matmul", 9),
        ] {
            assert_eq!(
                count(&ops, op),
                expected,
                "{graph}: `{op}` nodes in {ops:?}"
            );
        }
        let slopes = ops.iter().filter(|o| o.starts_with("slope")).count();
        assert_eq!(slopes, 2, "{graph}: slope nodes in {ops:?}");
    }
}

twins!(TwoGrads, TwoGradsOff {
    input x: [n, 3];
    input r: [n, 2];
    var w: [3, 2];
    output loss = sum(tanh(matmul(x, w)) * r);
    output g_x = grad(loss, x);
    output g_w = grad(loss, w);
});

graph! {
    #[optimize(off)]
    struct OneGradOff {
        input x: [n, 3];
        input r: [n, 2];
        var w: [3, 2];
        output loss = sum(tanh(matmul(x, w)) * r);
        output g_x = grad(loss, x);
    }
}

/// Two `grad`s of one loss share one backward pass: the graph with both
/// has the forward ops once, one slope of `tanh`, one seed, and exactly one
/// more node than the graph with one `grad` per extra product (the
/// transposed operand and the product itself).
#[test]
fn two_grads_share_one_backward_pass() {
    const X: usize = 0;
    const R: usize = 1;
    const W: usize = 2;
    for (graph, dot) in [
        ("as written", TwoGrads::DOT_AS_WRITTEN),
        ("#[optimize(off)]", TwoGradsOff::DOT),
    ] {
        let ops = dot_ops(dot);
        assert_eq!(count(&ops, "tanh"), 1, "{graph}: {ops:?}");
        assert_eq!(count(&ops, "sum"), 1, "{graph}: {ops:?}");
        assert_eq!(count(&ops, "matmul"), 3, "{graph}: {ops:?}");
        let slopes = ops.iter().filter(|o| o.starts_with("slope")).count();
        assert_eq!(slopes, 1, "{graph}: {ops:?}");
        let one = dot_ops(OneGradOff::DOT);
        assert_eq!(count(&one, "tanh"), 1, "one grad: {one:?}");
        assert_eq!(count(&one, "matmul"), 2, "one grad: {one:?}");
        assert_eq!(ops.len(), one.len() + 2, "{graph}: {ops:?} against {one:?}");
    }
    // And the gradients are right.
    let mut rng = Rng::new(0x110);
    let x = rng.uniform(&[3, 3], -1.0, 1.0);
    let r = rng.uniform(&[3, 2], -1.0, 1.0);
    let w = rng.uniform(&[3, 2], -1.0, 1.0);
    let o = TwoGrads::new(view::<f32, _>(&w).to_owned())
        .unwrap()
        .run(view(&x), view(&r))
        .unwrap();
    let t = [&x, &r, &w].map(f64s);
    let loss = |t: &[T]| dot(&rf::matmul(&t[X], &t[W]).mapv(f64::tanh), &t[R]);
    check(
        "tanh(matmul(x, w))",
        &t,
        o.loss,
        g![X => o.g_x, W => o.g_w],
        loss,
    );
}

graph! {
    /// A loss that does not depend on `x` (nor on `v`).
    struct Unrelated {
        input x: [3];
        input y: [3];
        var v: [2, 2];
        output loss = sum(y * y);
        output g_x = grad(loss, x);
        output g_v = grad(loss, v);
        output g_y = grad(loss, y);
    }
}

#[test]
fn a_gradient_of_an_unrelated_loss_is_zero() {
    let y = Array1::from(vec![0.5, -1.5, 2.0]);
    let graph = Unrelated::new(staticflow::ndarray::array![[1.0, 2.0], [3.0, 4.0]]).unwrap();
    let o = graph.run(y.view()).unwrap();
    // `x` is not needed: `run` takes only `y`.
    assert_eq!(graph.g_x().unwrap(), Array1::<f32>::zeros(3));
    assert_eq!(o.loss, 0.25 + 2.25 + 4.0);
    assert_eq!(o.g_x, Array1::<f32>::zeros(3));
    assert_eq!(o.g_v, staticflow::ndarray::Array2::<f32>::zeros((2, 2)));
    assert_eq!(o.g_y, Array1::from(vec![1.0, -3.0, 4.0]));
}

graph! {
    /// Gradient descent on `w`, with the gradient also an output.
    struct Descent {
        input x: [2];
        var w: [2];
        output loss = sum(w * w * x);
        output dw = grad(loss, w);
        w = w - 0.1 * grad(loss, w);
    }
}

graph! {
    /// Two variables updated from one loss: both updates read the values
    /// from before the step.
    struct Exchange {
        var a: [2];
        var b: [2];
        output loss = sum(a * b);
        a = a - 0.5 * grad(loss, a);
        b = b - 0.5 * grad(loss, b);
    }
}

#[test]
fn gradients_in_updates() {
    let mut descent = Descent::new(Array1::from(vec![1.0, -2.0])).unwrap();
    let x = Array1::from(vec![0.5, 0.25]);
    // loss = Σ w²·x = 0.5 + 1 = 1.5; dw = 2·w·x = [1, -1].
    assert_eq!(descent.loss(x.view()).unwrap(), 1.5);
    assert_eq!(descent.dw(x.view()).unwrap(), Array1::from(vec![1.0, -1.0]));
    descent.update(x.view()).unwrap();
    // w − 0.1·[1, −1] = [0.9, −1.9] (the products 0.1·±1 are exact in f32).
    assert_eq!(
        descent.w(),
        Array1::from(vec![1.0 - 0.1_f32, -2.0 + 0.1_f32])
    );
    // Second step: dw = 2·[0.9, −1.9]·[0.5, 0.25] = [0.9, −0.95].
    descent.update(x.view()).unwrap();
    let w = descent.w();
    for (got, expected) in w.iter().zip([0.9 - 0.09, -1.9 + 0.095]) {
        assert!((f64::from(*got) - expected).abs() < 1e-6, "{w}");
    }

    // a = [1, 2], b = [3, −4]: dloss/da = b, dloss/db = a (before the step).
    let mut exchange =
        Exchange::new(Array1::from(vec![1.0, 2.0]), Array1::from(vec![3.0, -4.0])).unwrap();
    assert_eq!(exchange.loss().unwrap(), 3.0 - 8.0);
    exchange.update().unwrap();
    assert_eq!(exchange.a(), Array1::from(vec![1.0 - 1.5, 2.0 + 2.0]));
    assert_eq!(exchange.b(), Array1::from(vec![3.0 - 0.5, -4.0 - 1.0]));
}

twins!(DenseActivations, DenseActivationsOff {
    input x: [n, 4];
    input r: [n, 3];
    var w: [4, 3];
    var b: [3];
    output l_relu = sum(relu(matmul(x, w) + b) * r);
    output g_relu_x = grad(l_relu, x);
    output g_relu_w = grad(l_relu, w);
    output g_relu_b = grad(l_relu, b);
    output l_leaky = sum(leaky_relu(matmul(x, w) + b, alpha = 0.1) * r);
    output g_leaky_x = grad(l_leaky, x);
    output g_leaky_w = grad(l_leaky, w);
    output g_leaky_b = grad(l_leaky, b);
    output l_sigmoid = sum(sigmoid(matmul(x, w) + b) * r);
    output g_sigmoid_x = grad(l_sigmoid, x);
    output g_sigmoid_w = grad(l_sigmoid, w);
    output g_sigmoid_b = grad(l_sigmoid, b);
    output l_tanh = sum(tanh(matmul(x, w) + b) * r);
    output g_tanh_x = grad(l_tanh, x);
    output g_tanh_w = grad(l_tanh, w);
    output g_tanh_b = grad(l_tanh, b);
    output l_gelu_tanh = sum(gelu_tanh(matmul(x, w) + b) * r);
    output g_gelu_tanh_x = grad(l_gelu_tanh, x);
    output g_gelu_tanh_w = grad(l_gelu_tanh, w);
    output g_gelu_tanh_b = grad(l_gelu_tanh, b);
    output l_gelu_exact = sum(gelu_exact(matmul(x, w) + b) * r);
    output g_gelu_exact_x = grad(l_gelu_exact, x);
    output g_gelu_exact_w = grad(l_gelu_exact, w);
    output g_gelu_exact_b = grad(l_gelu_exact, b);
    output l_softplus = sum(softplus(matmul(x, w) + b) * r);
    output g_softplus_x = grad(l_softplus, x);
    output g_softplus_w = grad(l_softplus, w);
    output g_softplus_b = grad(l_softplus, b);
    output l_clip = sum(clip(matmul(x, w) + b, -0.5, 0.5) * r);
    output g_clip_x = grad(l_clip, x);
    output g_clip_w = grad(l_clip, w);
    output g_clip_b = grad(l_clip, b);
    output l_silu = sum(silu(matmul(x, w) + b) * r);
    output g_silu_x = grad(l_silu, x);
    output g_silu_w = grad(l_silu, w);
    output g_silu_b = grad(l_silu, b);
    output l_elu = sum(elu(matmul(x, w) + b) * r);
    output g_elu_x = grad(l_elu, x);
    output g_elu_w = grad(l_elu, w);
    output g_elu_b = grad(l_elu, b);
    output l_hard = sum(hard_sigmoid(matmul(x, w) + b, alpha = 0.5) * r);
    output g_hard_x = grad(l_hard, x);
    output g_hard_w = grad(l_hard, w);
    output g_hard_b = grad(l_hard, b);
});

/// Every activation the dense fusion takes, at the end of a dense layer:
/// the optimizer fuses the forward product, bias and activation, and the
/// gradients must not change.
#[test]
fn dense_layers_with_every_activation() {
    const X: usize = 0;
    const R: usize = 1;
    const W: usize = 2;
    const B: usize = 3;
    type Act = Box<dyn Fn(f64) -> f64>;
    rewritten(
        "DenseActivations",
        (DenseActivations::DOT, DenseActivations::DOT_AS_WRITTEN),
        (
            DenseActivationsOff::DOT,
            DenseActivationsOff::DOT_AS_WRITTEN,
        ),
        "dense:",
    );
    // The eleven layers' products are one: CSE merged them, forward and
    // backward passes alike.
    let dense = DenseActivations::DOT.matches("dense:").count();
    assert_eq!(dense, 1, "{}", DenseActivations::DOT);
    let activations: [(&str, Act); 11] = [
        ("relu", Box::new(|v: f64| v.max(0.0))),
        ("leaky", Box::new(|v| rf::leaky_relu(v, lit(0.1)))),
        ("sigmoid", Box::new(rf::sigmoid)),
        ("tanh", Box::new(f64::tanh)),
        ("gelu_tanh", Box::new(rf::gelu_tanh)),
        ("gelu_exact", Box::new(rf::gelu_exact)),
        ("softplus", Box::new(rf::softplus)),
        ("clip", Box::new(|v: f64| v.clamp(-0.5, 0.5))),
        ("silu", Box::new(|v| v * rf::sigmoid(v))),
        ("elu", Box::new(|v| rf::elu(v, 1.0))),
        ("hard", Box::new(|v| rf::hard_sigmoid(v, 0.5, 0.5))),
    ];
    // Kinks of the pre-activation: 0, the clip bounds, the hard sigmoid's
    // corners (0.5·v + 0.5 ∈ {0, 1}).
    let kinks = [0.0, -0.5, 0.5, -1.0, 1.0];
    let pre = |t: &[T]| rf::zip(&rf::matmul(&t[X], &t[W]), &t[B], |a, b| a + b);
    for n in [1, 3] {
        let mut rng = Rng::new(0x120 + n as u64);
        let t32 = loop {
            let t32 = [
                rng.uniform(&[n, 4], -1.5, 1.5),
                rng.uniform(&[n, 3], -1.0, 1.0),
                rng.uniform(&[4, 3], -1.0, 1.0),
                rng.uniform(&[3], -0.5, 0.5),
            ];
            let a = pre(&t32.each_ref().map(f64s));
            if a.iter().all(|v| kinks.iter().all(|k| (v - k).abs() > 1e-2)) {
                break t32;
            }
        };
        let t = t32.each_ref().map(f64s);
        let (w, b) = (
            view::<f32, _>(&t32[W]).to_owned(),
            view::<f32, _>(&t32[B]).to_owned(),
        );
        let optimized = DenseActivations::new(w.clone(), b.clone()).unwrap();
        let off = DenseActivationsOff::new(w, b).unwrap();
        macro_rules! all {
            ($o:expr) => {
                results!($o;
                    l_relu, g_relu_x, g_relu_w, g_relu_b, l_leaky, g_leaky_x, g_leaky_w, g_leaky_b,
                    l_sigmoid, g_sigmoid_x, g_sigmoid_w, g_sigmoid_b, l_tanh, g_tanh_x, g_tanh_w,
                    g_tanh_b, l_gelu_tanh, g_gelu_tanh_x, g_gelu_tanh_w, g_gelu_tanh_b,
                    l_gelu_exact, g_gelu_exact_x, g_gelu_exact_w, g_gelu_exact_b, l_softplus,
                    g_softplus_x, g_softplus_w, g_softplus_b, l_clip, g_clip_x, g_clip_w, g_clip_b,
                    l_silu, g_silu_x, g_silu_w, g_silu_b, l_elu, g_elu_x, g_elu_w, g_elu_b,
                    l_hard, g_hard_x, g_hard_w, g_hard_b)
            };
        }
        let optimized = all!(optimized.run(view(&t32[X]), view(&t32[R])).unwrap());
        let off = all!(off.run(view(&t32[X]), view(&t32[R])).unwrap());
        for (twin, o) in [("optimized", &optimized), ("#[optimize(off)]", &off)] {
            for (act, f) in &activations {
                let field = |part: &str| o[format!("g_{act}_{part}").as_str()].clone();
                let grads = vec![(X, field("x")), (W, field("w")), (B, field("b"))];
                let loss = |t: &[T]| dot(&pre(t).mapv(f), &t[R]);
                let got = scalar(&o[format!("l_{act}").as_str()]);
                check(
                    &format!("{act}(matmul(x, w) + b) ({twin}, n = {n})"),
                    &t,
                    got,
                    grads,
                    loss,
                );
            }
        }
        let exact = twins_agree("dense_layers_with_every_activation", &optimized, &off);
        eprintln!(
            "dense activations (n = {n}): {} of {} bit-exact",
            exact.len(),
            optimized.len()
        );
    }
    report("dense_layers_with_every_activation");
}

twins!(Entangled, EntangledOff {
    input x: [3];
    var w: [3, 3];
    var v: [3];
    var s: [];
    let h = tanh(matmul(x, w) * s);
    output loss = matmul(h, v) + sum(w * w) * s;
    v = v - 0.25 * grad(loss, v);
    s = s - 0.25 * grad(loss, s);
    w = w - 0.25 * grad(loss, w);
});

graph! {
    /// As `Entangled`, the updates declared in the other order.
    struct EntangledReversed {
        input x: [3];
        var w: [3, 3];
        var v: [3];
        var s: [];
        let h = tanh(matmul(x, w) * s);
        output loss = matmul(h, v) + sum(w * w) * s;
        w = w - 0.25 * grad(loss, w);
        s = s - 0.25 * grad(loss, s);
        v = v - 0.25 * grad(loss, v);
    }
}

/// Updates whose gradients read each other's variables (`v`'s gradient
/// reads `w` and `s`, `w`'s reads `v` and `s`, ...): after `update`, each
/// variable must be its value minus 0.25 times the gradient at the values
/// from before the step, the gradient here being the `f64` central
/// difference.
#[test]
fn updates_read_the_values_from_before_the_step() {
    const X: usize = 0;
    const W: usize = 1;
    const V: usize = 2;
    const S: usize = 3;
    rewritten(
        "Entangled",
        (Entangled::DOT, Entangled::DOT_AS_WRITTEN),
        (EntangledOff::DOT, EntangledOff::DOT_AS_WRITTEN),
        "fused:",
    );
    let mut rng = Rng::new(0x130);
    let x = rng.uniform(&[3], -1.0, 1.0);
    let w = rng.uniform(&[3, 3], -1.0, 1.0);
    let v = rng.uniform(&[3], -1.0, 1.0);
    let s = rng.uniform(&[], 0.5, 1.5);
    let t = [&x, &w, &v, &s].map(f64s);
    let loss = |t: &[T]| {
        let h = rf::matmul(&t[X], &t[W]).mapv(|a| (a * rf::at(&t[S], &[])).tanh());
        rf::matmul(&h, &t[V])[IxDyn(&[])] + t[W].mapv(|a| a * a).sum() * rf::at(&t[S], &[])
    };
    let expected: Vec<T> = [W, V, S]
        .iter()
        .map(|&which| {
            let mut point = t.to_vec();
            let mut new = t[which].clone();
            for (i, value) in new.iter_mut().enumerate() {
                *value -= lit(0.25) * central_difference(&mut point, which, i, &loss);
            }
            new
        })
        .collect();
    let (w0, v0) = (view::<f32, _>(&w).to_owned(), view::<f32, _>(&v).to_owned());
    let mut graphs = (
        Entangled::new(w0.clone(), v0.clone(), scalar(&s)).unwrap(),
        EntangledOff::new(w0.clone(), v0.clone(), scalar(&s)).unwrap(),
        EntangledReversed::new(w0, v0, scalar(&s)).unwrap(),
    );
    graphs.0.update(view(&x)).unwrap();
    graphs.1.update(view(&x)).unwrap();
    graphs.2.update(view(&x)).unwrap();
    let after = [
        (
            "optimized",
            [
                graphs.0.w().to_owned().into_dyn(),
                graphs.0.v().to_owned().into_dyn(),
                arr0(graphs.0.s()).into_dyn(),
            ],
        ),
        (
            "#[optimize(off)]",
            [
                graphs.1.w().to_owned().into_dyn(),
                graphs.1.v().to_owned().into_dyn(),
                arr0(graphs.1.s()).into_dyn(),
            ],
        ),
        (
            "reversed",
            [
                graphs.2.w().to_owned().into_dyn(),
                graphs.2.v().to_owned().into_dyn(),
                arr0(graphs.2.s()).into_dyn(),
            ],
        ),
    ];
    for (graph, values) in after {
        for ((name, got), want) in ["w", "v", "s"].iter().zip(values).zip(&expected) {
            for (g, e) in got.iter().zip(want) {
                assert!(
                    (f64::from(*g) - e).abs() <= TOL * e.abs().max(1.0),
                    "{graph}: {name} after the step: {got} expected {want}"
                );
            }
        }
    }
}

/// Running twice through one workspace gives what a fresh one gives: no
/// backward kernel relies on storage it did not write (the scatter-add of
/// `gather`'s gradient starts from zeros, the tie counts of `max`, ...).
#[test]
fn workspaces_can_be_reused() {
    let mut rng = Rng::new(0x140);
    let mut workspace = LookupWorkspace::default();
    let graph = Lookup::new();
    for n in [3, 1, 3] {
        let table = rng.uniform(&[5, 3], -1.0, 1.0);
        let flat = rng.uniform(&[6], -1.0, 1.0);
        let idx = rng.indices(&[n, 4], 5);
        let idx1 = rng.indices(&[6], 5);
        let r = rng.uniform(&[n, 4, 3], -1.0, 1.0);
        let r1 = rng.uniform(&[n, 4], -1.0, 1.0);
        let r6 = rng.uniform(&[6, 3], -1.0, 1.0);
        let args = (
            view(&table),
            view(&flat),
            view(&idx),
            view(&idx1),
            view(&r),
            view(&r1),
            view(&r6),
        );
        let fresh = graph
            .run(args.0, args.1, args.2, args.3, args.4, args.5, args.6)
            .unwrap();
        for _ in 0..2 {
            let reused = graph
                .run_with(
                    &mut workspace,
                    args.0,
                    args.1,
                    args.2,
                    args.3,
                    args.4,
                    args.5,
                    args.6,
                )
                .unwrap();
            assert_eq!(reused.g_gather, fresh.g_gather);
            assert_eq!(reused.g_embedding, fresh.g_embedding);
            assert_eq!(reused.g_flat, fresh.g_flat);
            assert_eq!(reused.g_rows, fresh.g_rows);
        }
    }
    let mut workspace = MaxMinWorkspace::default();
    for n in [3, 1, 3] {
        let x = rng.distinct(&[n, 3, 4]);
        let w = reduction_weights(&mut rng, n);
        let graph = MaxMin::new();
        let fresh = graph
            .run(
                view(&x),
                view(&w[0]),
                view(&w[1]),
                view(&w[2]),
                view(&w[3]),
                view(&w[4]),
                view(&w[5]),
                scalar(&w[6]),
                view(&w[7]),
                view(&w[8]),
            )
            .unwrap();
        let reused = graph
            .run_with(
                &mut workspace,
                view(&x),
                view(&w[0]),
                view(&w[1]),
                view(&w[2]),
                view(&w[3]),
                view(&w[4]),
                view(&w[5]),
                scalar(&w[6]),
                view(&w[7]),
                view(&w[8]),
            )
            .unwrap();
        assert_eq!(reused.g_max02, fresh.g_max02);
        assert_eq!(reused.g_min_all, fresh.g_min_all);
        assert_eq!(reused.g_max1k, fresh.g_max1k);
        assert_eq!(reused.g_min_neg, fresh.g_min_neg);
    }
}

graph! {
    /// A backward pass on the slice kernels of `#[no_std]` graphs.
    #[no_std]
    struct Bare {
        input x: [2, 3];
        input r: [2, 2];
        var w: [3, 2];
        var b: [2];
        output loss = sum(tanh(matmul(x, w) + b) * r) + sum(softmax(x) * x) + max(x)
            + sum(mean(x, axis = 1) * b);
        output g_w = grad(loss, w);
        output g_x = grad(loss, x);
        output g_b = grad(loss, b);
    }
}

#[test]
fn no_std_graphs_differentiate_too() {
    const X: usize = 0;
    const R: usize = 1;
    const W: usize = 2;
    const B: usize = 3;
    let mut rng = Rng::new(0x150);
    let t32 = [
        rng.distinct(&[2, 3]),
        rng.uniform(&[2, 2], -1.0, 1.0),
        rng.uniform(&[3, 2], -1.0, 1.0),
        rng.uniform(&[2], -0.5, 0.5),
    ];
    let rows = |a: &ArrayD<f32>| -> Vec<Vec<f32>> {
        a.outer_iter()
            .map(|row| row.iter().copied().collect())
            .collect()
    };
    let array = |v: Vec<f32>| -> [f32; 2] { v.try_into().unwrap() };
    let array3 = |v: Vec<f32>| -> [f32; 3] { v.try_into().unwrap() };
    let x: [[f32; 3]; 2] = rows(&t32[X])
        .into_iter()
        .map(array3)
        .collect::<Vec<_>>()
        .try_into()
        .unwrap();
    let r: [[f32; 2]; 2] = rows(&t32[R])
        .into_iter()
        .map(array)
        .collect::<Vec<_>>()
        .try_into()
        .unwrap();
    let w: [[f32; 2]; 3] = rows(&t32[W])
        .into_iter()
        .map(array)
        .collect::<Vec<_>>()
        .try_into()
        .unwrap();
    let b: [f32; 2] = array(t32[B].iter().copied().collect());
    let bare = Bare::new(w, b);
    let mut workspace = BareWorkspace::new();
    let loss = bare.loss_with(&mut workspace, &x, &r);
    let dyn_ =
        |data: Vec<f32>, shape: &[usize]| ArrayD::from_shape_vec(IxDyn(shape), data).unwrap();
    let g_w = dyn_(bare.g_w_with(&mut workspace, &x, &r).concat(), &[3, 2]);
    let g_x = dyn_(bare.g_x_with(&mut workspace, &x, &r).concat(), &[2, 3]);
    let g_b = dyn_(bare.g_b_with(&mut workspace, &x, &r).to_vec(), &[2]);
    let t = t32.each_ref().map(f64s);
    let reference = |t: &[T]| {
        let h = rf::zip(&rf::matmul(&t[X], &t[W]), &t[B], |a, b| (a + b).tanh());
        dot(&h, &t[R])
            + dot(&rf::softmax(&t[X], 1), &t[X])
            + t[X].iter().copied().fold(f64::NEG_INFINITY, f64::max)
            + dot(&rf::mean(&t[X], &[1], false), &t[B])
    };
    check(
        "#[no_std] graph",
        &t,
        loss,
        vec![(W, g_w), (X, g_x), (B, g_b)],
        reference,
    );
    report("no_std_graphs_differentiate_too");
}

twins!(WideDense, WideDenseOff {
    input x: [n, 37];
    input r: [n, 21];
    var w: [37, 21];
    var b: [21];
    output loss = sum(tanh(matmul(x, w) + b) * r);
    output g_x = grad(loss, x);
    output g_w = grad(loss, w);
    output g_b = grad(loss, b);
});

/// Sizes across the matrix kernel's 16-column panels and its packed copy
/// of `w` (a single row takes the packed path), then the same after `w`
/// is changed through `w_mut()` and `set_w`, which must refresh the copy.
#[test]
fn wide_dense_layer_and_changed_weights() {
    const X: usize = 0;
    const R: usize = 1;
    const W: usize = 2;
    const B: usize = 3;
    rewritten(
        "WideDense",
        (WideDense::DOT, WideDense::DOT_AS_WRITTEN),
        (WideDenseOff::DOT, WideDenseOff::DOT_AS_WRITTEN),
        "dense:",
    );
    let loss = |t: &[T]| {
        let h = rf::zip(&rf::matmul(&t[X], &t[W]), &t[B], |a, b| (a + b).tanh());
        dot(&h, &t[R])
    };
    let mut rng = Rng::new(0x160);
    let w = rng.uniform(&[37, 21], -0.3, 0.3);
    let b = rng.uniform(&[21], -0.5, 0.5);
    let (w_, b_) = (view::<f32, _>(&w).to_owned(), view::<f32, _>(&b).to_owned());
    let mut optimized = WideDense::new(w_.clone(), b_.clone()).unwrap();
    let mut off = WideDenseOff::new(w_, b_).unwrap();
    let mut weights = [w, b];
    for (round, n) in [1, 17, 1, 3].into_iter().enumerate() {
        if round == 2 {
            // Change w in place, as a training loop outside the graph would.
            let delta = rng.uniform(&[37, 21], -0.1, 0.1);
            weights[0] = &weights[0] + &delta;
            let new: staticflow::ndarray::Array2<f32> = view::<f32, _>(&weights[0]).to_owned();
            optimized.w_mut().assign(&new);
            off.set_w(new).unwrap();
        }
        let x = rng.uniform(&[n, 37], -1.0, 1.0);
        let r = rng.uniform(&[n, 21], -1.0, 1.0);
        let a = results!(optimized.run(view(&x), view(&r)).unwrap(); loss, g_x, g_w, g_b);
        let o = results!(off.run(view(&x), view(&r)).unwrap(); loss, g_x, g_w, g_b);
        let t = [f64s(&x), f64s(&r), f64s(&weights[0]), f64s(&weights[1])];
        for (twin, o) in [("optimized", &a), ("#[optimize(off)]", &o)] {
            let grads = vec![
                (X, o["g_x"].clone()),
                (W, o["g_w"].clone()),
                (B, o["g_b"].clone()),
            ];
            check(
                &format!("wide dense ({twin}, n = {n}, round {round})"),
                &t,
                scalar(&o["loss"]),
                grads,
                loss,
            );
        }
        let exact = twins_agree("wide_dense_layer", &a, &o);
        eprintln!(
            "wide dense (n = {n}, round {round}): bit-exact with #[optimize(off)]: {exact:?}"
        );
    }
    report("wide_dense_layer_and_changed_weights");
}

graph! {
    /// Two symbolic dims: the sizes `mean` divides by and `broadcast_to`
    /// stretches to are known only at run time.
    struct TwoSymbols {
        input x: [n, m];
        input v: [m];
        input u: [n, 1];
        input r: [n, m];
        output l_mean = mean(x * r);
        output g_mean = grad(l_mean, x);
        output l_outer = sum(mean(x, axis = 1, keep_dims = true) * mean(x * r, axis = 0, keep_dims = true));
        output g_outer = grad(l_outer, x);
        output l_stretch = mean(broadcast_to(v, [n, m]) * x) + mean(u * x * r);
        output g_stretch_v = grad(l_stretch, v);
        output g_stretch_u = grad(l_stretch, u);
        output g_stretch_x = grad(l_stretch, x);
    }
}

#[test]
fn two_symbolic_dims() {
    const X: usize = 0;
    const V: usize = 1;
    const U: usize = 2;
    const R: usize = 3;
    for (n, m) in [(1, 2), (3, 4), (2, 1)] {
        let mut rng = Rng::new(0x170 + 8 * n as u64 + m as u64);
        let t32 = [
            rng.uniform(&[n, m], -1.0, 1.0),
            rng.uniform(&[m], -1.0, 1.0),
            rng.uniform(&[n, 1], -1.0, 1.0),
            rng.uniform(&[n, m], -1.0, 1.0),
        ];
        let o = TwoSymbols::new()
            .run(view(&t32[X]), view(&t32[V]), view(&t32[U]), view(&t32[R]))
            .unwrap();
        let t = t32.each_ref().map(f64s);
        let name = |what: &str| format!("{what} (n = {n}, m = {m})");
        let mean_all = |a: &T| a.mean().unwrap();
        let l_mean = |t: &[T]| mean_all(&(&t[X] * &t[R]));
        check(&name("mean(x·r)"), &t, o.l_mean, g![X => o.g_mean], l_mean);
        let l_outer = |t: &[T]| {
            let rows = rf::mean(&t[X], &[1], true);
            let columns = rf::mean(&(&t[X] * &t[R]), &[0], true);
            rf::zip(&rows, &columns, |a, b| a * b).sum()
        };
        check(
            &name("row means ⊗ column means"),
            &t,
            o.l_outer,
            g![X => o.g_outer],
            l_outer,
        );
        let l_stretch = |t: &[T]| {
            mean_all(&(&rf::broadcast_to(&t[V], &[n, m]) * &t[X]))
                + mean_all(&rf::zip(&(&t[X] * &t[R]), &t[U], |a, b| a * b))
        };
        let grads = g![V => o.g_stretch_v, U => o.g_stretch_u, X => o.g_stretch_x];
        check(
            &name("broadcast_to and [n, 1]"),
            &t,
            o.l_stretch,
            grads,
            l_stretch,
        );
    }
    report("two_symbolic_dims");
}

graph! {
    /// Inputs that may come as strided views.
    struct Strided {
        input a: [n, 4];
        input m: [4, 3];
        input t: [2, 3, 4];
        input r: [n, 3];
        input rt: [4, 3, 2];
        var w: [4, 3];
        output loss = sum(tanh(matmul(a, w) + matmul(a, m)) * r)
            + sum(permute(t, [2, 1, 0]) * rt) + sum(softmax(t, 0) * t);
        output g_a = grad(loss, a);
        output g_m = grad(loss, m);
        output g_w = grad(loss, w);
        output g_t = grad(loss, t);
        output g_r = grad(loss, r);
    }
}

/// Non-contiguous input views (a strided slice, a transpose, permuted
/// axes) give the gradients of their contiguous copies, to the rounding of
/// the products (a strided operand may take another product kernel, which
/// sums in another order).
#[test]
fn strided_inputs() {
    use staticflow::ndarray::{s, Array2, Array3};
    let mut rng = Rng::new(0x180);
    let mut draw2 = |rows: usize, columns: usize| -> Array2<f32> {
        view::<f32, _>(&rng.uniform(&[rows, columns], -1.0, 1.0)).to_owned()
    };
    let big = draw2(8, 9);
    let m_t = draw2(3, 4);
    let r_t = draw2(3, 4);
    let w = draw2(4, 3);
    let t3: Array3<f32> =
        view::<f32, _>(&Rng::new(0x181).uniform(&[4, 3, 2], -1.0, 1.0)).to_owned();
    let rt: Array3<f32> =
        view::<f32, _>(&Rng::new(0x182).uniform(&[4, 3, 2], -1.0, 1.0)).to_owned();
    let a = big.slice(s![..;2, 1..;2]);
    let t = t3.view().permuted_axes([2, 1, 0]);
    assert!(!a.is_standard_layout() && !m_t.t().is_standard_layout() && !t.is_standard_layout());
    let graph = Strided::new(w).unwrap();
    let strided = graph.run(a, m_t.t(), t, r_t.t(), rt.view()).unwrap();
    let (a, m, t, r) = (
        a.to_owned(),
        m_t.t().to_owned(),
        t.to_owned(),
        r_t.t().to_owned(),
    );
    let contiguous = graph
        .run(a.view(), m.view(), t.view(), r.view(), rt.view())
        .unwrap();
    let pairs = [
        ("loss", strided.loss.dyn_(), contiguous.loss.dyn_()),
        ("g_a", strided.g_a.dyn_(), contiguous.g_a.dyn_()),
        ("g_m", strided.g_m.dyn_(), contiguous.g_m.dyn_()),
        ("g_w", strided.g_w.dyn_(), contiguous.g_w.dyn_()),
        ("g_t", strided.g_t.dyn_(), contiguous.g_t.dyn_()),
        ("g_r", strided.g_r.dyn_(), contiguous.g_r.dyn_()),
    ];
    for (name, got, want) in pairs {
        agree(&format!("strided {name}"), &got, &want);
    }
}
