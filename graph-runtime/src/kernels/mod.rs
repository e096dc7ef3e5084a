//! Tensor kernels, grouped by family.
//!
//! Kernels trust their callers about shapes: `graph!` proves at compile time
//! that every operand fits, and checks fed inputs on entry. A kernel handed
//! operands that do not fit panics through [`shape_panic`], naming itself and
//! every shape, which can only mean a bug in the caller.

pub mod batched;
pub mod binary;
pub mod constant;
pub mod conv;
pub mod conv_grad;
pub mod dense;
pub mod dropout;
pub mod elementwise;
pub mod fused;
pub mod linalg;
pub mod loss;
pub mod movement;
pub mod nn;
pub mod norm_grad;
pub mod packed;
pub mod reduce;
// The crate's only unsafe code: AVX2 + FMA kernels behind `dense`, each
// unsafe block with its SAFETY argument.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod simd;
pub mod softmax;
pub mod unary;

/// Runs a loop over contiguous slices, with the widest vectors the CPU
/// offers where the crate has a dispatch for them (AVX2 on x86-64: see
/// `simd::with_avx2`, which keeps the results bit for bit).
#[inline]
pub(crate) fn vectorised(body: impl FnOnce()) {
    #[cfg(target_arch = "x86_64")]
    simd::with_avx2(body);
    #[cfg(not(target_arch = "x86_64"))]
    body();
}

/// Reports operands whose shapes a kernel cannot work with.
///
/// # Panics
/// Always: that is its purpose.
#[cold]
#[track_caller]
pub fn shape_panic(kernel: &str, shapes: &[&[usize]]) -> ! {
    panic!("kernel `{kernel}` called with operands of incompatible shapes {shapes:?}")
}
