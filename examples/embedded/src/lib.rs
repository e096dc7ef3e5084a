//! The digits classifier of `tests/reference/sklearn_digits.py` (an MLP
//! 64-32-10 trained by scikit-learn) as firmware would hold it:
//!
//! - `#![no_std]` without `alloc`: the crate links only `core`;
//! - the weights are baked in at build time from the committed safetensors
//!   file, as `static` arrays in read-only memory;
//! - inputs and outputs are fixed-size arrays, and intermediate values live
//!   in a [`DigitsWorkspace`] of [`Digits::WORKSPACE_BYTES`] bytes that the
//!   caller places where it likes (here, the stack).
//!
//! ```
//! // An all-zero image: the network's bias alone decides.
//! let class = staticflow_embedded::classify(&[0.0; 64]);
//! assert!(class < 10);
//! ```
#![no_std]
#![forbid(unsafe_code)]

use staticflow::graph;

graph! {
    /// The scikit-learn digits MLP, weights baked in. Pixels are scaled to
    /// [0, 1] (the data set's 0..=16 divided by 16).
    #[no_std]
    #[weights("../../tests/reference/fixtures/sklearn/digits_mlp.safetensors")]
    // What the firmware sets aside: a larger model or workspace is a compile
    // error (it takes 9,640 bytes of weights and 128 of workspace).
    #[budget(workspace = "256 B", weights = "10 kB")]
    pub struct Digits {
        input x: [64];
        var w1: [64, 32];
        var b1: [32];
        var w2: [32, 10];
        var b2: [10];
        output logits = matmul(relu(matmul(x, w1) + b1), w2) + b2;
        output class = argmax(logits);
    }
}

/// The model: every weight is baked in, so it holds nothing and can be a
/// `static` itself.
pub static MODEL: Digits = Digits::new();

/// The digit (0 to 9) an 8×8 image shows, its pixels row by row in [0, 1].
#[must_use]
pub fn classify(pixels: &[f32; 64]) -> usize {
    let mut workspace = DigitsWorkspace::new();
    MODEL.class_with(&mut workspace, pixels)
}

/// Samples per fine-tuning step.
#[cfg(feature = "fine-tune")]
pub const TUNE_BATCH: usize = 4;

#[cfg(feature = "fine-tune")]
graph! {
    /// On-device fine-tuning of the same MLP: the hidden layer (`w1`, `b1`)
    /// stays frozen in read-only memory, baked in from the file; the output
    /// layer (`w2`, `b2`), which the step trains, starts from the file's
    /// values and lives in the struct, in RAM. The step's forward pass,
    /// backward pass and SGD update were derived and memory-planned when
    /// this crate compiled: it needs no allocator and cannot fail.
    #[no_std]
    #[weights("../../tests/reference/fixtures/sklearn/digits_mlp.safetensors")]
    pub struct FineTune {
        input x: [4, 64];
        input labels: [4] as usize;
        var w1: [64, 32];
        var b1: [32];
        var w2: [32, 10];
        var b2: [10];
        let logits = matmul(relu(matmul(x, w1) + b1), w2) + b2;
        output class = argmax(logits, axis = 1);
        let loss = mean(softmax_cross_entropy(logits, labels));
        step tune = minimize(loss, sgd(lr = 0.05), vars = [w2, b2]);
    }
}

/// One fine-tuning step of `model` on [`TUNE_BATCH`] labelled images: its
/// output layer moves down the gradient of the mean cross-entropy, and the
/// loss before the step is returned. `workspace` holds every intermediate
/// value of the forward and backward passes.
#[cfg(feature = "fine-tune")]
pub fn fine_tune(
    model: &mut FineTune,
    workspace: &mut FineTuneWorkspace,
    pixels: &[[f32; 64]; TUNE_BATCH],
    labels: &[usize; TUNE_BATCH],
) -> f32 {
    model.tune_with(workspace, pixels, labels)
}

/// Halts on a panic. Only for building this crate alone as a static library
/// (the `staticlib` feature): a binary that links `std` has its own.
#[cfg(feature = "staticlib")]
#[panic_handler]
fn halt(_: &core::panic::PanicInfo) -> ! {
    loop {}
}

/// Keeps [`classify`] in the static library as firmware would call it,
/// so that its machine code can be measured there (`footprint.sh`).
#[cfg(feature = "staticlib")]
#[used]
static ENTRY: fn(&[f32; 64]) -> usize = classify;

/// Keeps [`fine_tune`] in the static library likewise.
#[cfg(all(feature = "staticlib", feature = "fine-tune"))]
#[used]
static TUNE_ENTRY: fn(
    &mut FineTune,
    &mut FineTuneWorkspace,
    &[[f32; 64]; TUNE_BATCH],
    &[usize; TUNE_BATCH],
) -> f32 = fine_tune;
