//! Whole `.npy` files read as arrays, outside any graph: data to feed a
//! graph, such as `f32` features or integer class labels, as numpy saved
//! them.
//!
//! ```no_run
//! use graph_runtime::weights::{read_npy_f32, read_npy_usize};
//!
//! let images = read_npy_f32("test_images.npy")?; // numpy float32
//! let labels = read_npy_usize("test_labels.npy")?; // numpy int64, as np.save writes them
//! # Ok::<(), graph_runtime::Error>(())
//! ```

use std::path::Path;

use ndarray::{ArrayD, Dimension};

use super::npy::{self, Layout};
use crate::Error;

/// The dtypes [`read_npy_usize`] takes, as its errors name them.
pub const INDEX_DTYPES: &str =
    "an integer dtype: '<i8', '<u8', '<i4', '<u4', '<i2', '<u2' (or big-endian), '|i1' or '|u1'";

/// The dtypes [`read_npy_f32`] takes, as its errors name them.
pub const F32_DTYPES: &str = "'<f4' (or big-endian '>f4')";

/// Reads an `.npy` file of `f32` values (`numpy.float32`) into an array of
/// the shape it declares, in standard layout.
///
/// # Errors
/// [`Error::Io`] if the file cannot be read, [`Error::CorruptFile`] if it is
/// not a valid `.npy` file, [`Error::FileDType`] if its dtype is not `f32`.
pub fn read_npy_f32(path: impl AsRef<Path>) -> Result<ArrayD<f32>, Error> {
    let path = path.as_ref();
    let bytes = super::read(path)?;
    parse_npy_f32(&bytes, &path.display().to_string())
}

/// [`read_npy_f32`] on bytes in memory, naming them `file` in errors.
///
/// # Errors
/// As [`read_npy_f32`], without the I/O.
pub fn parse_npy_f32(bytes: &[u8], file: &str) -> Result<ArrayD<f32>, Error> {
    let layout = Layout::parse(bytes, file)?;
    let Some(big_endian) = npy::f32_byte_order(&layout.descr) else {
        return Err(dtype_error(file, F32_DTYPES, layout.descr));
    };
    let values = super::decode_f32(&bytes[layout.data], big_endian);
    super::to_array(&layout.shape, values, layout.fortran_order)
        .ok_or_else(|| count_error(file, &layout.shape))
}

/// Reads an `.npy` file of integers, such as the class labels numpy saves
/// as `int64`, into an array of `usize` of the shape it declares, in
/// standard layout: what a graph's `input labels: [n] as usize` takes.
///
/// ```
/// use graph_runtime::{weights::parse_npy_usize, Error};
///
/// // A file of two int64 labels, 2 and -1, as numpy writes it.
/// let header = "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }";
/// let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
/// bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
/// bytes.extend_from_slice(header.as_bytes());
/// bytes.extend_from_slice(&2_i64.to_le_bytes());
/// bytes.extend_from_slice(&(-1_i64).to_le_bytes());
///
/// let err = parse_npy_usize(&bytes, "labels.npy").unwrap_err();
/// assert_eq!(err, Error::NotAnIndex { file: "labels.npy".into(), value: -1, position: vec![1] });
/// ```
///
/// # Errors
/// [`Error::Io`] if the file cannot be read, [`Error::CorruptFile`] if it is
/// not a valid `.npy` file, [`Error::FileDType`] if its dtype is not one of
/// [`INDEX_DTYPES`] (floats included: labels saved as floats are a mistake
/// to fix where they are saved), and [`Error::NotAnIndex`] for the first
/// value, in row-major order, that is negative or does not fit a `usize`.
pub fn read_npy_usize(path: impl AsRef<Path>) -> Result<ArrayD<usize>, Error> {
    let path = path.as_ref();
    let bytes = super::read(path)?;
    parse_npy_usize(&bytes, &path.display().to_string())
}

/// [`read_npy_usize`] on bytes in memory, naming them `file` in errors.
///
/// # Errors
/// As [`read_npy_usize`], without the I/O.
pub fn parse_npy_usize(bytes: &[u8], file: &str) -> Result<ArrayD<usize>, Error> {
    let layout = Layout::parse(bytes, file)?;
    let Some(integers) = Integers::of(&layout.descr) else {
        return Err(dtype_error(file, INDEX_DTYPES, layout.descr));
    };
    let values: Vec<i128> = bytes[layout.data]
        .chunks_exact(integers.size)
        .map(|chunk| integers.decode(chunk))
        .collect();
    let array = super::to_array(&layout.shape, values, layout.fortran_order)
        .ok_or_else(|| count_error(file, &layout.shape))?;
    if let Some((position, &value)) = array
        .indexed_iter()
        .find(|(_, &value)| usize::try_from(value).is_err())
    {
        return Err(Error::NotAnIndex {
            file: file.to_owned(),
            value,
            position: position.slice().to_vec(),
        });
    }
    Ok(array.mapv(|value| usize::try_from(value).unwrap_or_default()))
}

fn dtype_error(file: &str, expected: &'static str, actual: String) -> Error {
    Error::FileDType {
        file: file.to_owned(),
        expected,
        actual,
    }
}

/// The parser checked the data's length against the shape; this is for a
/// file it could not (it can for every dtype read here).
fn count_error(file: &str, shape: &[usize]) -> Error {
    Error::CorruptFile {
        file: file.to_owned(),
        reason: format!("the data does not hold the elements of shape {shape:?}"),
    }
}

/// An integer dtype: item size in bytes, signedness, byte order.
struct Integers {
    size: usize,
    signed: bool,
    big_endian: bool,
}

impl Integers {
    fn of(descr: &str) -> Option<Self> {
        let mut chars = descr.chars();
        let order = chars.next()?;
        let signed = match chars.next()? {
            'i' => true,
            'u' => false,
            _ => return None,
        };
        let size: usize = match chars.as_str() {
            "1" => 1,
            "2" => 2,
            "4" => 4,
            "8" => 8,
            _ => return None,
        };
        let big_endian = match (order, size) {
            ('|', 1) | ('<', _) => false,
            ('>', _) => true,
            ('=', _) => cfg!(target_endian = "big"),
            _ => return None,
        };
        Some(Integers {
            size,
            signed,
            big_endian,
        })
    }

    /// The value of one item's bytes.
    fn decode(&self, chunk: &[u8]) -> i128 {
        let mut word = [0_u8; 8];
        if self.big_endian {
            for (slot, &byte) in word.iter_mut().zip(chunk.iter().rev()) {
                *slot = byte;
            }
        } else {
            word[..chunk.len()].copy_from_slice(chunk);
        }
        let unsigned = u64::from_le_bytes(word);
        if self.signed {
            // Sign-extend from the item's width.
            let unused = 64 - 8 * u32::try_from(self.size).unwrap_or(8);
            #[allow(clippy::cast_possible_wrap)] // reinterpreting the bits is the point
            let signed = ((unsigned << unused) as i64) >> unused;
            i128::from(signed)
        } else {
            i128::from(unsigned)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Integers;

    #[test]
    fn items_decode_in_both_byte_orders_and_signs() {
        let little = Integers::of("<i2").unwrap();
        assert_eq!(little.decode(&(-2_i16).to_le_bytes()), -2);
        let big = Integers::of(">u4").unwrap();
        assert_eq!(big.decode(&70_000_u32.to_be_bytes()), 70_000);
        let byte = Integers::of("|i1").unwrap();
        assert_eq!(byte.decode(&[0xff]), -1);
        let wide = Integers::of("<u8").unwrap();
        assert_eq!(wide.decode(&u64::MAX.to_le_bytes()), i128::from(u64::MAX));
        for descr in ["<f4", "|i2", "<i3", "<b1", "i8", "<i16", ""] {
            assert!(Integers::of(descr).is_none(), "{descr}");
        }
    }
}
