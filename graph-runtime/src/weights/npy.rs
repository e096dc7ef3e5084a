//! Reading the `.npy` format that `numpy.save` writes: a zero-copy parser
//! that validates everything it reads. The rules it enforces, and how
//! Fortran order and big-endian data are handled, are listed on [`Npy`].

use core::ops::Range;

use ndarray::ArrayD;

use super::literal::{self, Literal};
use super::safetensors::truncate;
use crate::Error;

/// The name used for the file in errors when the bytes came from memory.
pub(crate) const IN_MEMORY: &str = "<npy bytes>";

/// The dtype a variable needs, as `.npy` headers spell it.
pub(crate) const F32_DESCR: &str = "<f4";

const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// A parsed `.npy` file: its header, and its data borrowed from the bytes.
///
/// A file is the magic string `\x93NUMPY`, a version byte pair, a
/// little-endian header length (2 bytes in version 1.0, 4 in 2.0 and 3.0),
/// then a header holding a Python dict literal
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }` (Latin-1
/// text in versions 1.0 and 2.0, UTF-8 in 3.0), then the data.
///
/// [`Npy::parse`] accepts a file only when the magic string and version are
/// right, the header fits in the file and is a dict with exactly the keys
/// `descr`, `fortran_order` and `shape`, the shape is a tuple of sizes whose
/// non-zero sizes multiply to at most `isize::MAX` (ndarray's limit), and,
/// for a simple dtype such as `<f4` or `<i8` whose item size is known, the
/// data is exactly as long as the shape needs (numpy ignores trailing bytes; here they mean the file is not what
/// its header says). Other dtypes (structured, object) parse, and then fail
/// to convert to `f32`.
///
/// Only `<f4` and `>f4` convert to `f32`. Big-endian data is byte-swapped,
/// and data in Fortran (column-major) order is transposed into row-major
/// order, so the array has the shape the header declares and the values
/// numpy shows.
///
/// ```
/// use graph_runtime::weights::Npy;
///
/// let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
/// let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
/// bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
/// bytes.extend_from_slice(header.as_bytes());
/// bytes.extend_from_slice(&1.5_f32.to_le_bytes());
/// bytes.extend_from_slice(&(-2.0_f32).to_le_bytes());
///
/// let npy = Npy::parse(&bytes).unwrap();
/// assert_eq!((npy.descr.as_str(), npy.shape.as_slice()), ("<f4", &[2][..]));
/// assert_eq!(npy.to_f32_vec(), Some(vec![1.5, -2.0]));
///
/// let err = Npy::parse(&bytes[..bytes.len() - 2]).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "`<npy bytes>` is corrupt: dtype '<f4' and shape [2] need 8 bytes of data, \
///      but 6 follow the header; the file may be truncated"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Npy<'a> {
    /// The dtype as the header writes it, such as `<f4`; a structured dtype
    /// (a list in the header) is kept as its Python text.
    pub descr: String,
    /// Whether the data is in Fortran (column-major) order.
    pub fortran_order: bool,
    /// The shape, outermost axis first; empty for a scalar.
    pub shape: Vec<usize>,
    /// The data after the header, exactly as long as the shape needs when
    /// the dtype's item size is known.
    pub data: &'a [u8],
}

impl<'a> Npy<'a> {
    /// Parses and validates `bytes`; errors call the file `<npy bytes>`.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Error> {
        Self::parse_named(bytes, IN_MEMORY)
    }

    /// Parses and validates `bytes`, naming them `file` in errors.
    ///
    /// ```
    /// use graph_runtime::{weights::Npy, Error};
    ///
    /// let err = Npy::parse_named(b"PK\x03\x04", "w1.npy").unwrap_err();
    /// assert_eq!(
    ///     err,
    ///     Error::CorruptFile {
    ///         file: "w1.npy".into(),
    ///         reason: "the file does not start with the .npy magic string \\x93NUMPY \
    ///                  (it starts with \"PK\\x03\\x04\")".into(),
    ///     }
    /// );
    /// ```
    pub fn parse_named(bytes: &'a [u8], file: &str) -> Result<Self, Error> {
        let layout = Layout::parse(bytes, file)?;
        Ok(Npy {
            descr: layout.descr,
            fortran_order: layout.fortran_order,
            shape: layout.shape,
            data: &bytes[layout.data],
        })
    }

    /// Whether the data converts to `f32`: the dtype is `<f4` or `>f4`.
    #[must_use]
    pub fn is_f32(&self) -> bool {
        f32_byte_order(&self.descr).is_some()
    }

    /// The elements as `f32` in row-major order (transposed from Fortran
    /// order and byte-swapped from big-endian where the header says so), or
    /// `None` unless [`Npy::is_f32`]. NaN payloads are kept bit for bit.
    #[must_use]
    pub fn to_f32_vec(&self) -> Option<Vec<f32>> {
        let array = self.to_f32_array()?;
        Some(array.iter().copied().collect())
    }

    /// The data as an `f32` array of the declared shape in standard
    /// (row-major) layout, or `None` unless [`Npy::is_f32`].
    #[must_use]
    pub fn to_f32_array(&self) -> Option<ArrayD<f32>> {
        let big_endian = f32_byte_order(&self.descr)?;
        let values = super::decode_f32(self.data, big_endian);
        super::to_array(&self.shape, values, self.fortran_order)
    }
}

/// `Some(big_endian)` for the two `f32` dtypes, `None` for any other.
pub(crate) fn f32_byte_order(descr: &str) -> Option<bool> {
    match descr {
        "<f4" => Some(false),
        ">f4" => Some(true),
        _ => None,
    }
}

/// A validated header: where the data is in the whole file.
pub(crate) struct Layout {
    pub(crate) descr: String,
    pub(crate) fortran_order: bool,
    pub(crate) shape: Vec<usize>,
    pub(crate) data: Range<usize>,
}

impl Layout {
    /// Reads and validates the header of `bytes`, naming them `file` in
    /// errors.
    pub(crate) fn parse(bytes: &[u8], file: &str) -> Result<Self, Error> {
        let corrupt = |reason: String| Error::CorruptFile {
            file: file.to_owned(),
            reason,
        };
        if !bytes.starts_with(MAGIC) {
            let start = &bytes[..bytes.len().min(MAGIC.len())];
            return Err(corrupt(format!(
                "the file does not start with the .npy magic string \\x93NUMPY (it starts with \
                 \"{}\")",
                start.escape_ascii()
            )));
        }
        let Some(&[major, minor]) = bytes.get(6..8) else {
            return Err(corrupt(format!(
                "the file ends after {} bytes, inside the version field",
                bytes.len()
            )));
        };
        let header_start = match (major, minor) {
            (1, 0) => 10,
            (2 | 3, 0) => 12,
            _ => {
                return Err(corrupt(format!(
                    "the file has .npy version {major}.{minor}, but only 1.0, 2.0 and 3.0 exist"
                )))
            }
        };
        let Some(length_field) = bytes.get(8..header_start) else {
            return Err(corrupt(format!(
                "the file ends after {} bytes, inside the header length field",
                bytes.len()
            )));
        };
        let header_length = length_field
            .iter()
            .rev()
            .fold(0_usize, |length, &byte| (length << 8) | usize::from(byte));
        let available = bytes.len() - header_start;
        if header_length > available {
            return Err(corrupt(format!(
                "the header length field says {header_length} bytes, but only {available} bytes \
                 follow it"
            )));
        }
        let header_end = header_start + header_length;
        let header = &bytes[header_start..header_end];
        let text = if major == 3 {
            core::str::from_utf8(header)
                .map_err(|err| corrupt(format!("the version 3.0 header is not UTF-8: {err}")))?
                .to_owned()
        } else {
            // Versions 1.0 and 2.0 are Latin-1, whose bytes are the first 256
            // code points.
            header.iter().map(|&byte| char::from(byte)).collect()
        };
        let literal = literal::parse(&text)
            .map_err(|reason| corrupt(format!("the header is not a Python literal: {reason}")))?;
        let fields = Fields::read(literal).map_err(corrupt)?;

        let data = header_end..bytes.len();
        let too_large = || {
            corrupt(format!(
                "shape {:?} is too large for an array (its non-zero sizes multiply past \
                 isize::MAX)",
                fields.shape
            ))
        };
        let elements = super::element_count(&fields.shape).ok_or_else(too_large)?;
        if let Some(item_size) = item_size(&fields.descr) {
            let needed = elements.checked_mul(item_size).ok_or_else(too_large)?;
            let actual = data.len();
            if actual != needed {
                let hint = if actual < needed {
                    "; the file may be truncated"
                } else {
                    ""
                };
                return Err(corrupt(format!(
                    "dtype '{}' and shape {:?} need {needed} bytes of data, but {actual} follow \
                     the header{hint}",
                    fields.descr, fields.shape
                )));
            }
        }
        Ok(Layout {
            descr: fields.descr,
            fortran_order: fields.fortran_order,
            shape: fields.shape,
            data,
        })
    }
}

/// The three entries of a header dict.
struct Fields {
    descr: String,
    fortran_order: bool,
    shape: Vec<usize>,
}

impl Fields {
    fn read(literal: Literal) -> Result<Self, String> {
        let Literal::Dict(pairs) = literal else {
            return Err(format!(
                "the header is {}, not a dict",
                truncate(&literal.to_string())
            ));
        };
        let (mut descr, mut fortran_order, mut shape) = (None, None, None);
        for (key, value) in pairs {
            let slot_taken = match &key {
                Literal::Str(name) if name == "descr" => descr.replace(value).is_some(),
                Literal::Str(name) if name == "fortran_order" => {
                    fortran_order.replace(value).is_some()
                }
                Literal::Str(name) if name == "shape" => shape.replace(value).is_some(),
                other => {
                    return Err(format!(
                        "the header has key {}, but its only keys are 'descr', \
                         'fortran_order' and 'shape'",
                        truncate(&other.to_string())
                    ))
                }
            };
            if slot_taken {
                return Err(format!("the header has key {key} twice"));
            }
        }
        let missing = |key: &str| format!("the header has no key '{key}'");

        let descr = match descr.ok_or_else(|| missing("descr"))? {
            Literal::Str(text) => text,
            // A structured dtype: kept as text so the error that rejects it
            // can show it.
            other => truncate(&other.to_string()),
        };
        let fortran_order = match fortran_order.ok_or_else(|| missing("fortran_order"))? {
            Literal::Bool(flag) => flag,
            other => {
                return Err(format!(
                    "'fortran_order' is {}, not True or False",
                    truncate(&other.to_string())
                ))
            }
        };
        let shape_literal = shape.ok_or_else(|| missing("shape"))?;
        let not_sizes = || {
            format!(
                "'shape' is {}, not a tuple of sizes",
                truncate(&shape_literal.to_string())
            )
        };
        let Literal::Tuple(items) = &shape_literal else {
            return Err(not_sizes());
        };
        let shape = items
            .iter()
            .map(|item| match item {
                Literal::Int(size) => usize::try_from(*size).ok(),
                _ => None,
            })
            .collect::<Option<Vec<usize>>>()
            .ok_or_else(not_sizes)?;
        Ok(Fields {
            descr,
            fortran_order,
            shape,
        })
    }
}

/// The size in bytes of one item of a simple dtype such as `<f4`, `|u1` or
/// `<U8`, or `None` for a dtype whose size this parser does not work out.
fn item_size(descr: &str) -> Option<usize> {
    let rest = descr.strip_prefix(['<', '>', '|', '=']).unwrap_or(descr);
    let mut chars = rest.chars();
    let kind = chars.next()?;
    let digits = chars.as_str();
    if !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let count: usize = digits.parse().ok()?;
    match kind {
        'b' | 'i' | 'u' | 'f' | 'c' | 'S' | 'V' | '?' => Some(count),
        'U' => count.checked_mul(4),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::item_size;

    #[test]
    fn item_sizes_of_simple_dtypes() {
        assert_eq!(item_size("<f4"), Some(4));
        assert_eq!(item_size(">f8"), Some(8));
        assert_eq!(item_size("|b1"), Some(1));
        assert_eq!(item_size("<U3"), Some(12));
        assert_eq!(item_size("|O"), None);
        assert_eq!(item_size("<M8[ns]"), None);
        assert_eq!(item_size("<f+4"), None);
        assert_eq!(item_size("<f99999999999999999999999"), None);
        assert_eq!(item_size(""), None);
    }
}
