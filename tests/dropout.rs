//! `dropout(x, rate, seed)`: the identity in outputs, inverted dropout in a
//! training step's forward pass with a counter-based mask, the same mask in
//! its gradient.
//!
//! The masks are observed exactly through SGD steps with `lr = 1` on
//! `loss = sum(dropout(v)·w)`: `w`'s gradient is the forward value
//! `dropout(v)` and `v`'s gradient is `w` through the backward mask, so with
//! `v = 3` and `w = 1` a step leaves `w = 1 − 3·s` and `v = 3 − s` where an
//! element is kept (`s = 1/(1 − rate)`) and both unchanged where it is
//! dropped. They are compared with
//! `tests/reference/fixtures/training/dropout_masks.json`, which
//! `tests/reference/training_forms.py` draws in Python from the hash as
//! `docs/LANGUAGE.md` specifies it (not from the Rust code).

mod common;
mod training_fixtures;

use staticflow::graph;
use staticflow::ndarray::{arr1, Array1, Array2};
use staticflow::weights::Weights;

use common::Json;
use training_fixtures::{field, load, named, single};

/// One dropout of `n` elements at `rate` with `seed`, in step `fit`.
macro_rules! masked {
    ($(#[$attr:meta])* $name:ident, $n:literal, $rate:literal, $seed:literal) => {
        graph! {
            $(#[$attr])*
            struct $name {
                var v: [$n];
                var w: [$n];
                let dropped = dropout(v, rate = $rate, seed = $seed);
                output y = dropped * w;
                output loss = sum(dropped * w);
                output dv = grad(loss, v);
                step fit = minimize(loss, sgd(lr = 1.0));
            }
        }
    };
}

masked!(Thousand, 1000, 0.3, 17);
masked!(
    #[optimize(off)]
    ThousandPlain,
    1000,
    0.3,
    17
);
masked!(NegativeSeed, 1000, 0.3, -3);
masked!(Large, 20000, 0.5, 99);
masked!(Huge, 100_000, 0.3, 4);

/// What the tests ask of the `masked!` graphs.
trait Masked: Sized {
    fn ones(n: usize) -> Self;
    fn fit(&mut self) -> f32;
    fn v(&self) -> Array1<f32>;
    fn w(&self) -> Array1<f32>;
    fn reset(&mut self, n: usize);
    fn set_count(&mut self, low: f32, high: f32);
    fn count(&self) -> (f32, f32);
    fn bytes(&self) -> Vec<u8>;
    fn from_bytes(bytes: Vec<u8>) -> Self;
}

macro_rules! masked_impl {
    ($ty:ident) => {
        impl Masked for $ty {
            fn ones(n: usize) -> Self {
                let mut model = $ty::zeros();
                model.reset(n);
                model
            }
            fn fit(&mut self) -> f32 {
                $ty::fit(self).unwrap()
            }
            fn v(&self) -> Array1<f32> {
                $ty::v(self).to_owned()
            }
            fn w(&self) -> Array1<f32> {
                $ty::w(self).to_owned()
            }
            fn reset(&mut self, n: usize) {
                self.set_v(Array1::from_elem(n, 3.0)).unwrap();
                self.set_w(Array1::from_elem(n, 1.0)).unwrap();
            }
            fn set_count(&mut self, low: f32, high: f32) {
                self.set_fit_dropout_count_low(low);
                self.set_fit_dropout_count_high(high);
            }
            fn count(&self) -> (f32, f32) {
                (self.fit_dropout_count_low(), self.fit_dropout_count_high())
            }
            fn bytes(&self) -> Vec<u8> {
                self.to_safetensors_bytes()
            }
            fn from_bytes(bytes: Vec<u8>) -> Self {
                $ty::from_weights(Weights::from_safetensors_bytes(bytes).unwrap(), true).unwrap()
            }
        }
    };
}

masked_impl!(Thousand);
masked_impl!(ThousandPlain);
masked_impl!(NegativeSeed);
masked_impl!(Large);
masked_impl!(Huge);

/// `1/(1 − rate)` rounded once to f32, as documented.
#[allow(clippy::cast_possible_truncation)]
fn scale(rate: f32) -> f32 {
    (1.0 / (1.0 - f64::from(rate))) as f32
}

/// The forward mask (from `w`) and the backward mask (from `v`) of the
/// step just taken from `v = 3`, `w = 1`, after checking each element's
/// value: kept elements scaled by exactly `s` both ways, dropped ones
/// unchanged.
#[track_caller]
fn observed(model: &impl Masked, rate: f32) -> Vec<bool> {
    let s = scale(rate);
    let (v, w) = (model.v(), model.w());
    let mut kept = Vec::with_capacity(v.len());
    for (i, (&v, &w)) in v.iter().zip(&w).enumerate() {
        // Forward: w − dropout(v); backward: v − (mask·s)·w.
        let forward = w != 1.0;
        let backward = v != 3.0;
        assert_eq!(
            forward, backward,
            "element {i}: forward and backward masks differ"
        );
        if forward {
            assert_eq!(w, 1.0 - 3.0 * s, "element {i}: forward value");
            assert_eq!(v, 3.0 - s, "element {i}: gradient");
        }
        kept.push(forward);
    }
    kept
}

fn masks() -> Json {
    load("dropout_masks")
}

/// The fixture's case `name`: its parameters and its kept flags.
fn case(fixture: &Json, name: &str) -> (f32, u64, u64, Vec<bool>) {
    let case = named(field(fixture, "cases"), name);
    let rate = single(field(case, "rate"));
    let stream = field(case, "stream").float();
    let count = field(case, "count").float();
    assert!(stream < 2f64.powi(52) && count < 2f64.powi(52));
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // Whole, checked.
    let (stream, count) = (stream as u64, count as u64);
    let kept: Vec<bool> = field(case, "kept")
        .text()
        .chars()
        .map(|c| c == '1')
        .collect();
    assert_eq!(kept.len(), field(case, "n").index());
    (rate, stream, count, kept)
}

#[track_caller]
fn same_mask(context: &str, got: &[bool], want: &[bool]) {
    let differ = got.iter().zip(want).filter(|(a, b)| a != b).count();
    assert_eq!(
        differ,
        0,
        "{context}: {differ} of {} elements differ",
        got.len()
    );
}

/// Steps 1 to 3 from `v = 3, w = 1` each: the masks of counts 0, 1, 2.
fn first_three_steps<M: Masked>() {
    let fixture = masks();
    let mut model = M::ones(1000);
    for (step, name) in ["first_step", "second_step", "third_step"]
        .iter()
        .enumerate()
    {
        let (rate, stream, count, want) = case(&fixture, name);
        assert_eq!((stream, count), (0, u64::try_from(step).unwrap()));
        model.reset(1000);
        let loss = model.fit();
        let kept = observed(&model, rate);
        same_mask(name, &kept, &want);
        // The loss the step returns is its forward pass's: Σ 3·s over the
        // kept elements (an f32 sum of ~700 equal terms).
        let expected = 3.0 * f64::from(scale(rate)) * want.iter().filter(|k| **k).count() as f64;
        assert!(
            (f64::from(loss) - expected).abs() <= 1e-5 * expected,
            "{name}: loss {loss} vs {expected}"
        );
    }
    assert_eq!(model.count(), (3.0, 0.0));
}

#[test]
fn masks_follow_the_documented_hash() {
    first_three_steps::<Thousand>();
    first_three_steps::<ThousandPlain>();
}

#[test]
fn a_negative_seed_counts_modulo_two_to_the_64() {
    let (rate, _, _, want) = case(&masks(), "negative_seed");
    let mut model = NegativeSeed::ones(1000);
    Masked::fit(&mut model);
    same_mask("negative seed", &observed(&model, rate), &want);
}

#[test]
fn the_counter_carries_into_its_high_word() {
    let fixture = masks();
    let (rate, _, count, want) = case(&fixture, "after_the_low_word_carries");
    assert_eq!(count, (1 << 24) + 5);
    let mut model = Thousand::ones(1000);
    model.set_count(5.0, 1.0);
    Masked::fit(&mut model);
    same_mask("count 2^24 + 5", &observed(&model, rate), &want);
    assert_eq!(model.count(), (6.0, 1.0));
    // The last count of the low word, then the carry.
    model.set_count(16_777_215.0, 0.0);
    Masked::fit(&mut model);
    assert_eq!(model.count(), (0.0, 1.0));
}

#[test]
fn masks_drop_the_rate_and_scale_the_rest() {
    // 20000 elements at rate 0.5, from count 7: the fixture's mask.
    let (rate, _, count, want) = case(&masks(), "large");
    let mut model = Large::ones(20000);
    model.set_count(7.0, 0.0);
    assert_eq!(count, 7);
    Masked::fit(&mut model);
    same_mask("large", &observed(&model, rate), &want);
    // 100000 elements at rate 0.3, over four steps: each step's dropped
    // fraction within 4 standard deviations (0.0058) of the rate, and the
    // mean of the result the mean of the input (inverted dropout).
    let mut model = Huge::ones(100_000);
    for step in 0..4 {
        model.reset(100_000);
        Masked::fit(&mut model);
        let kept = observed(&model, 0.3);
        let dropped = kept.iter().filter(|k| !**k).count() as f64 / 1e5;
        assert!(
            (dropped - 0.3).abs() < 0.0058,
            "step {step}: dropped {dropped}"
        );
        // w = 1 − dropout(v): the mean of dropout(3) is 3·s·kept ≈ 3.
        let mean_out = model.w().iter().map(|&w| f64::from(1.0 - w)).sum::<f64>() / 1e5;
        assert!(
            (mean_out - 3.0).abs() < 3.0 * 0.0058 / 0.7,
            "step {step}: mean {mean_out}"
        );
    }
}

#[test]
fn different_steps_draw_different_masks_and_the_same_count_the_same() {
    let mut model = Thousand::ones(1000);
    let mut masks = Vec::new();
    for _ in 0..4 {
        model.reset(1000);
        Masked::fit(&mut model);
        masks.push(observed(&model, 0.3));
    }
    for i in 0..masks.len() {
        for j in 0..i {
            let differ = masks[i]
                .iter()
                .zip(&masks[j])
                .filter(|(a, b)| a != b)
                .count();
            // Two independent masks at rate 0.3 differ in 42% of elements.
            assert!(
                differ > 300,
                "steps {j} and {i} differ in {differ} elements"
            );
        }
    }
    // A fresh model set to count 2 draws step 3's mask again.
    let mut again = Thousand::ones(1000);
    again.set_count(2.0, 0.0);
    Masked::fit(&mut again);
    assert_eq!(observed(&again, 0.3), masks[2]);
}

#[test]
fn a_resumed_run_continues_exactly() {
    let mut straight = Thousand::ones(1000);
    let mut losses = Vec::new();
    for _ in 0..3 {
        losses.push(Masked::fit(&mut straight).to_bits());
    }
    let mut first = Thousand::ones(1000);
    let mut resumed_losses = vec![Masked::fit(&mut first).to_bits()];
    let mut resumed = Thousand::from_bytes(first.bytes());
    assert_eq!(resumed.count(), (1.0, 0.0));
    for _ in 0..2 {
        resumed_losses.push(Masked::fit(&mut resumed).to_bits());
    }
    assert_eq!(resumed_losses, losses);
    assert_eq!(resumed.bytes(), straight.bytes());
    // Without the counter (a file of the weights only) a run starts from
    // count 0 again: the first mask, not the third.
    let (v, w) = (first.v().into_dyn(), first.w().into_dyn());
    let only = staticflow::weights::save_safetensors(&[("v", v.view()), ("w", w.view())]);
    let mut restarted = Thousand::from_bytes(only);
    assert_eq!(restarted.count(), (0.0, 0.0));
    restarted.reset(1000);
    Masked::fit(&mut restarted);
    let mut fresh = Thousand::ones(1000);
    Masked::fit(&mut fresh);
    assert_eq!(restarted.bytes(), fresh.bytes());
}

#[test]
fn outputs_and_grad_see_the_identity() {
    let model = Thousand::ones(1000);
    let mut v = Array1::from_shape_fn(1000, |i| i as f32 * 0.01 - 3.0);
    v[7] = f32::NAN;
    let mut model = model;
    model.set_v(v.clone()).unwrap();
    model.set_w(Array1::from_elem(1000, 2.0)).unwrap();
    let y = model.y().unwrap();
    let expected = &v * 2.0;
    let bits = |a: &Array1<f32>| a.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&y), bits(&expected));
    assert_eq!(bits(&model.run().unwrap().y), bits(&expected));
    // grad(loss, v) of the identity: w, with no step taken.
    assert_eq!(model.dv().unwrap(), Array1::from_elem(1000, 2.0));
    assert_eq!(model.count(), (0.0, 0.0));
    // Same in the unoptimized twin, which copies the value through.
    let mut plain = ThousandPlain::zeros();
    plain.set_v(v.clone()).unwrap();
    plain.set_w(Array1::from_elem(1000, 2.0)).unwrap();
    assert_eq!(bits(&plain.y().unwrap()), bits(&expected));
    // The optimizer removes the identity from the outputs; the step keeps
    // its training form.
    assert!(Thousand::DOT_AS_WRITTEN.contains("dropout(rate=0.3, seed=17)"));
    assert!(!Thousand::DOT.contains("dropout(rate"), "{}", Thousand::DOT);
    assert!(Thousand::DOT.contains("dropout_train(rate=0.3, seed=17, stream=0)"));
}

graph! {
    /// Two dropouts of one step, with the same seed, and a second step.
    struct Streams {
        var a: [1000];
        var b: [1000];
        var wa: [1000];
        var wb: [1000];
        let first = dropout(a, rate = 0.3, seed = 17);
        let second = dropout(b, rate = 0.3, seed = 17);
        output loss = sum(first * wa) + sum(second * wb);
        step fit = minimize(loss, sgd(lr = 1.0));
        step tune = minimize(loss, sgd(lr = 1.0), vars = [wa]);
    }
}

#[test]
fn each_dropout_and_each_step_has_its_own_stream() {
    let fixture = masks();
    let reset = |model: &mut Streams| {
        for set in [Streams::set_a, Streams::set_b] {
            set(model, Array1::from_elem(1000, 3.0)).unwrap();
        }
        for set in [Streams::set_wa, Streams::set_wb] {
            set(model, Array1::from_elem(1000, 1.0)).unwrap();
        }
    };
    let mut model = Streams::zeros();
    reset(&mut model);
    model.fit().unwrap();
    let kept = |w: Array1<f32>| w.iter().map(|&w| w != 1.0).collect::<Vec<bool>>();
    let (_, stream, _, want) = case(&fixture, "first_step");
    assert_eq!(stream, 0);
    same_mask("first dropout", &kept(model.wa().to_owned()), &want);
    let (_, stream, _, want) = case(&fixture, "second_dropout_of_the_step");
    assert_eq!(stream, 1);
    same_mask("second dropout", &kept(model.wb().to_owned()), &want);
    // `tune` is the second step: stream 2³², and a counter of its own.
    reset(&mut model);
    model.tune().unwrap();
    let (_, stream, _, want) = case(&fixture, "second_step_declared");
    assert_eq!(stream, 1 << 32);
    same_mask("second step", &kept(model.wa().to_owned()), &want);
    assert_eq!(model.wb(), Array1::from_elem(1000, 1.0));
    assert_eq!(
        (
            model.fit_dropout_count_low(),
            model.tune_dropout_count_low()
        ),
        (1.0, 1.0)
    );
}

graph! {
    /// A rate of 0 keeps everything: no mask, no counter.
    struct Kept {
        input x: [n, 3];
        var w: [3];
        output loss = sum(dropout(x, rate = 0.0, seed = 1) * w);
        step fit = minimize(loss, sgd(lr = 1.0));
    }
}

#[test]
fn a_rate_of_zero_is_the_identity_even_in_a_step() {
    let mut model = Kept::zeros();
    let x = Array2::from_shape_fn((2, 3), |(i, j)| (i * 3 + j) as f32);
    assert_eq!(model.fit(x.view()).unwrap(), 0.0);
    assert_eq!(model.w(), arr1(&[-3.0, -5.0, -7.0]));
    let weights = Weights::from_safetensors_bytes(model.to_safetensors_bytes()).unwrap();
    assert_eq!(weights.names().collect::<Vec<_>>(), ["w"]);
}
