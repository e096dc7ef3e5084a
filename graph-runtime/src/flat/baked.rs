//! Baked weights as bytes. `graph!` emits a large baked constant as one
//! byte string in a 4-byte aligned `static` and views it as `f32`s, which
//! rustc compiles in a fraction of the time it takes to read as many float
//! literals or to convert them in a `const fn` (a model of 1 MB of
//! weights: about 0.4 s against 5 s and 8 s on this project's machine).

/// `f32` data stored as bytes in the target's byte order, aligned for
/// `f32`: `static W: Baked<8> = Baked(*b"...");`, read with
/// [`values`](Baked::values). `graph!` writes the bytes of both byte orders
/// under `#[cfg(target_endian = ..)]`.
#[repr(C, align(4))]
pub struct Baked<const BYTES: usize>(pub [u8; BYTES]);

impl<const BYTES: usize> Baked<BYTES> {
    /// The `BYTES / 4` values.
    ///
    /// ```
    /// use graph_runtime::flat::Baked;
    ///
    /// #[cfg(target_endian = "little")]
    /// static W: Baked<8> = Baked(*b"\x00\x00\x80\x3f\x00\x00\x00\xc0");
    /// #[cfg(target_endian = "big")]
    /// static W: Baked<8> = Baked(*b"\x3f\x80\x00\x00\xc0\x00\x00\x00");
    /// assert_eq!(W.values(), [1.0, -2.0]);
    /// ```
    #[must_use]
    pub fn values(&self) -> &[f32] {
        let len = BYTES / 4;
        // SAFETY: `self.0` starts at the struct's address, which
        // `repr(C, align(4))` aligns to 4 bytes, `f32`'s alignment; it holds
        // `BYTES >= 4 * len` initialised bytes, so `len` `f32`s fit; every
        // bit pattern is a valid `f32`; and the slice borrows `self`, which
        // nothing can mutate while it lives (no interior mutability).
        #[allow(clippy::cast_ptr_alignment)] // Aligned by `repr(align(4))`, as said.
        unsafe {
            core::slice::from_raw_parts(self.0.as_ptr().cast::<f32>(), len)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Baked;

    #[test]
    fn bits_survive_including_nan_payloads_and_signed_zero() {
        let values = [
            0.1_f32,
            -0.0,
            f32::INFINITY,
            f32::from_bits(0x7fc0_0001),
            3.5e-42,
        ];
        let mut bytes = [0_u8; 20];
        for (chunk, v) in bytes.chunks_exact_mut(4).zip(values) {
            chunk.copy_from_slice(&v.to_ne_bytes());
        }
        let baked = Baked(bytes);
        let back = baked.values();
        assert_eq!(back.len(), 5);
        for (a, b) in back.iter().zip(values) {
            assert_eq!(a.to_bits(), b.to_bits());
        }
        // The data is aligned however the value is placed: after a byte here.
        let placed = (1_u8, Baked([0_u8; 12]));
        assert_eq!(placed.1.values(), [0.0; 3]);
        assert_eq!(placed.1 .0.as_ptr().align_offset(4), 0);
    }

    #[test]
    fn a_length_not_a_multiple_of_four_leaves_the_tail_out() {
        assert_eq!(Baked([0_u8; 7]).values().len(), 1);
    }
}
