//! Reading the safetensors format: a zero-copy parser that validates
//! everything it reads before any tensor is looked at. The rules it enforces
//! are listed on [`SafeTensors`]; the writer is in `save.rs`.

use core::fmt;
use core::ops::Range;
use std::collections::HashSet;

use ndarray::{ArrayD, IxDyn};
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use super::dtype::Dtype;
use crate::Error;

/// The name used for the file in errors when the bytes came from memory.
pub(crate) const IN_MEMORY: &str = "<safetensors bytes>";

/// The key of the optional metadata entry in the header.
pub(crate) const METADATA_KEY: &str = "__metadata__";

/// One tensor of a parsed file: its declared type and shape, and its bytes.
///
/// The parser has already checked that `data.len()` is exactly the size the
/// type and shape call for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorView<'a> {
    /// The element type.
    pub dtype: Dtype,
    /// The shape, outermost axis first; empty for a scalar.
    pub shape: Vec<usize>,
    /// The raw little-endian bytes, row-major.
    pub data: &'a [u8],
}

impl TensorView<'_> {
    /// The elements as `f32` in row-major order, or `None` unless the dtype
    /// is [`Dtype::F32`]. NaN payloads are kept bit for bit.
    ///
    /// ```
    /// use graph_runtime::weights::{Dtype, TensorView};
    ///
    /// let bytes = [0, 0, 128, 63, 0, 0, 0, 64]; // 1.0 and 2.0, little-endian
    /// let view = TensorView { dtype: Dtype::F32, shape: vec![2], data: &bytes };
    /// assert_eq!(view.to_f32_vec(), Some(vec![1.0, 2.0]));
    /// let view = TensorView { dtype: Dtype::I32, ..view };
    /// assert_eq!(view.to_f32_vec(), None);
    /// ```
    #[must_use]
    pub fn to_f32_vec(&self) -> Option<Vec<f32>> {
        (self.dtype == Dtype::F32).then(|| super::decode_f32(self.data, false))
    }

    /// The tensor as an `f32` array of its shape, or `None` unless the dtype
    /// is [`Dtype::F32`] (or, for a view built by hand, unless the data
    /// holds exactly one `f32` per element).
    ///
    /// ```
    /// use graph_runtime::weights::{Dtype, TensorView};
    ///
    /// let bytes: Vec<u8> = [1.0_f32, 2.0, 3.0, 4.0].iter().flat_map(|x| x.to_le_bytes()).collect();
    /// let view = TensorView { dtype: Dtype::F32, shape: vec![2, 2], data: &bytes };
    /// assert_eq!(view.to_f32_array().unwrap(), ndarray::array![[1.0, 2.0], [3.0, 4.0]].into_dyn());
    /// ```
    #[must_use]
    pub fn to_f32_array(&self) -> Option<ArrayD<f32>> {
        ArrayD::from_shape_vec(IxDyn(&self.shape), self.to_f32_vec()?).ok()
    }
}

/// A parsed safetensors file: a validated index over borrowed bytes.
///
/// A file is an 8-byte little-endian header length `N`, then `N` bytes of
/// UTF-8 JSON, then the data section. The JSON object maps each tensor name
/// to `{"dtype", "shape", "data_offsets": [begin, end]}`, with offsets
/// counted from the first byte of the data section; an optional
/// `"__metadata__"` entry maps strings to strings.
///
/// [`SafeTensors::parse`] accepts a file only when:
///
/// - the header length fits in the bytes that follow it, and the header is
///   UTF-8 holding one JSON object (trailing spaces, which writers use as
///   padding, are allowed);
/// - every entry other than `__metadata__` is an object with a known
///   `dtype`, a `shape` of non-negative integers and two `data_offsets`;
///   other keys in an entry are ignored, as other readers do;
/// - no name appears twice;
/// - `begin <= end`, `end` is within the data section, and `end - begin`
///   equals the number of elements times the dtype's size, computed with
///   checked arithmetic; the non-zero sizes of the shape multiply to at most
///   `isize::MAX`, as ndarray requires of every shape;
/// - the tensors tile the data section exactly: no two overlap, and no byte
///   belongs to no tensor. This is the reference implementation's rule, so a
///   file accepted here is accepted there, and a truncated or concatenated
///   file is caught rather than read as something it is not.
///
/// Every rejection is an [`Error::CorruptFile`] whose reason names the tensor
/// and the expected and actual values.
///
/// ```
/// use graph_runtime::weights::{save_safetensors, Dtype, SafeTensors};
/// use ndarray::array;
///
/// let w = array![[1.0_f32, 2.0], [3.0, 4.0]].into_dyn();
/// let bytes = save_safetensors(&[("w", w.view())]);
///
/// let file = SafeTensors::parse(&bytes).unwrap();
/// assert_eq!(file.names().collect::<Vec<_>>(), ["w"]);
/// let view = file.get("w").unwrap();
/// assert_eq!((view.dtype, view.shape.as_slice()), (Dtype::F32, &[2, 2][..]));
/// assert_eq!(view.to_f32_array().unwrap(), w);
///
/// let err = SafeTensors::parse(&bytes[..bytes.len() - 1]).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "`<safetensors bytes>` is corrupt: tensor `w` has data_offsets [0, 16], \
///      but the data section has only 15 bytes; the file may be truncated"
/// );
/// ```
#[derive(Debug, Clone)]
pub struct SafeTensors<'a> {
    tensors: Vec<(String, TensorView<'a>)>,
    metadata: Vec<(String, String)>,
}

impl<'a> SafeTensors<'a> {
    /// Parses and validates `bytes`; errors call the file
    /// `<safetensors bytes>`.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Error> {
        Self::parse_named(bytes, IN_MEMORY)
    }

    /// Parses and validates `bytes`, naming them `file` in errors.
    ///
    /// ```
    /// use graph_runtime::{weights::SafeTensors, Error};
    ///
    /// let err = SafeTensors::parse_named(b"\x10\0\0\0\0\0\0\0{}", "model.safetensors").unwrap_err();
    /// assert!(matches!(err, Error::CorruptFile { ref file, .. } if file == "model.safetensors"));
    /// ```
    pub fn parse_named(bytes: &'a [u8], file: &str) -> Result<Self, Error> {
        let layout = Layout::parse(bytes, file)?;
        let tensors = layout
            .tensors
            .into_iter()
            .map(|entry| {
                let view = TensorView {
                    dtype: entry.dtype,
                    shape: entry.shape,
                    data: &bytes[entry.range],
                };
                (entry.name, view)
            })
            .collect();
        Ok(SafeTensors {
            tensors,
            metadata: layout.metadata,
        })
    }

    /// The tensor called `name`, if the file has one.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<TensorView<'a>> {
        self.tensors
            .iter()
            .find(|(candidate, _)| candidate == name)
            .map(|(_, view)| view.clone())
    }

    /// The tensor names, in the order the header lists them.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.iter().map(|(name, _)| name.as_str())
    }

    /// Every tensor with its name, in the order the header lists them.
    pub fn tensors(&self) -> impl Iterator<Item = (&str, &TensorView<'a>)> {
        self.tensors
            .iter()
            .map(|(name, view)| (name.as_str(), view))
    }

    /// The number of tensors (the metadata entry is not a tensor).
    #[must_use]
    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    /// Whether the file holds no tensor.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// The `__metadata__` entries, sorted by key.
    pub fn metadata(&self) -> impl Iterator<Item = (&str, &str)> {
        self.metadata
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()))
    }
}

/// A validated header: where each tensor's bytes are in the whole file.
pub(crate) struct Layout {
    pub(crate) tensors: Vec<LayoutEntry>,
    metadata: Vec<(String, String)>,
}

/// One tensor of a validated header.
pub(crate) struct LayoutEntry {
    pub(crate) name: String,
    pub(crate) dtype: Dtype,
    pub(crate) shape: Vec<usize>,
    /// Byte range in the whole file (not in the data section).
    pub(crate) range: Range<usize>,
}

impl Layout {
    /// Reads and validates the header of `bytes`, naming them `file` in
    /// errors.
    pub(crate) fn parse(bytes: &[u8], file: &str) -> Result<Self, Error> {
        let corrupt = |reason: String| Error::CorruptFile {
            file: file.to_owned(),
            reason,
        };
        let Some((length_field, rest)) = bytes.split_first_chunk::<8>() else {
            return Err(corrupt(format!(
                "the file has {} bytes, fewer than the 8 of the header length field",
                bytes.len()
            )));
        };
        let declared = u64::from_le_bytes(*length_field);
        let header_length = usize::try_from(declared)
            .ok()
            .filter(|&length| length <= rest.len())
            .ok_or_else(|| {
                corrupt(format!(
                    "the header length field says {declared} bytes, but only {} bytes follow it",
                    rest.len()
                ))
            })?;
        let (header, data) = rest.split_at(header_length);
        let data_start = 8 + header_length;

        let text = core::str::from_utf8(header)
            .map_err(|err| corrupt(format!("the header is not UTF-8: {err}")))?;
        let RawHeader(entries) = serde_json::from_str(text)
            .map_err(|err| corrupt(format!("the header is not one JSON object: {err}")))?;

        let mut seen = HashSet::new();
        let mut metadata = None;
        let mut tensors = Vec::new();
        for (name, value) in entries {
            if !seen.insert(name.clone()) {
                return Err(corrupt(format!("the header lists `{name}` twice")));
            }
            if name == METADATA_KEY {
                metadata = Some(parse_metadata(&value).map_err(corrupt)?);
                continue;
            }
            let (dtype, shape, offsets) = parse_entry(&name, &value).map_err(corrupt)?;
            check_extent(&name, dtype, &shape, offsets, data.len()).map_err(corrupt)?;
            tensors.push(LayoutEntry {
                name,
                dtype,
                shape,
                range: data_start + offsets[0]..data_start + offsets[1],
            });
        }
        check_tiling(&tensors, data_start, data.len()).map_err(corrupt)?;
        Ok(Layout {
            tensors,
            metadata: metadata.unwrap_or_default(),
        })
    }
}

/// The header's entries in file order, duplicates kept, so that a repeated
/// name is reported rather than silently resolved.
struct RawHeader(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for RawHeader {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(RawHeaderVisitor)
    }
}

struct RawHeaderVisitor;

impl<'de> Visitor<'de> for RawHeaderVisitor {
    type Value = RawHeader;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawHeader, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry::<String, Value>()? {
            entries.push(entry);
        }
        Ok(RawHeader(entries))
    }
}

fn parse_metadata(value: &Value) -> Result<Vec<(String, String)>, String> {
    let Value::Object(fields) = value else {
        return Err(format!(
            "`{METADATA_KEY}` is {}, not an object of strings",
            describe(value)
        ));
    };
    fields
        .iter()
        .map(|(key, value)| match value {
            Value::String(text) => Ok((key.clone(), text.clone())),
            other => Err(format!(
                "`{METADATA_KEY}` maps `{key}` to {}, not to a string",
                describe(other)
            )),
        })
        .collect()
}

/// Reads one tensor entry: its dtype, shape and data offsets.
fn parse_entry(name: &str, value: &Value) -> Result<(Dtype, Vec<usize>, [usize; 2]), String> {
    let Value::Object(fields) = value else {
        return Err(format!(
            "the entry of tensor `{name}` is {}, not an object",
            describe(value)
        ));
    };
    let field = |key: &str| {
        fields
            .get(key)
            .ok_or_else(|| format!("the entry of tensor `{name}` has no `{key}`"))
    };

    let dtype = match field("dtype")? {
        Value::String(text) => Dtype::from_name(text).ok_or_else(|| {
            format!(
                "tensor `{name}` has dtype `{}`, which is not a safetensors dtype",
                truncate(text)
            )
        })?,
        other => {
            return Err(format!(
                "the dtype of tensor `{name}` is {}, not a string",
                describe(other)
            ))
        }
    };
    let shape = sizes(field("shape")?)
        .ok_or_else(|| format!("the shape of tensor `{name}` is not a list of sizes"))?;
    let offsets = sizes(field("data_offsets")?)
        .and_then(|offsets| <[usize; 2]>::try_from(offsets).ok())
        .ok_or_else(|| format!("the data_offsets of tensor `{name}` are not two offsets"))?;
    Ok((dtype, shape, offsets))
}

/// A JSON list of non-negative integers that fit in `usize`.
fn sizes(value: &Value) -> Option<Vec<usize>> {
    let Value::Array(items) = value else {
        return None;
    };
    items
        .iter()
        .map(|item| item.as_u64().and_then(|size| usize::try_from(size).ok()))
        .collect()
}

/// Checks that a tensor's offsets are ordered, inside the data section, and
/// span exactly the bytes its dtype and shape need.
fn check_extent(
    name: &str,
    dtype: Dtype,
    shape: &[usize],
    [begin, end]: [usize; 2],
    data_length: usize,
) -> Result<(), String> {
    if begin > end {
        return Err(format!(
            "tensor `{name}` has data_offsets [{begin}, {end}], which end before they begin"
        ));
    }
    if end > data_length {
        return Err(format!(
            "tensor `{name}` has data_offsets [{begin}, {end}], but the data section has only \
             {data_length} bytes; the file may be truncated"
        ));
    }
    let bits = super::element_count(shape)
        .and_then(|count| count.checked_mul(dtype.bits()))
        .ok_or_else(|| {
            format!(
                "tensor `{name}` has shape {shape:?}, too large for an array (its non-zero sizes \
                 multiply past isize::MAX)"
            )
        })?;
    if bits % 8 != 0 {
        return Err(format!(
            "tensor `{name}` has dtype {dtype} and shape {shape:?}, which do not fill a whole \
             number of bytes"
        ));
    }
    let needed = bits / 8;
    if end - begin != needed {
        return Err(format!(
            "tensor `{name}` has dtype {dtype} and shape {shape:?}, so needs {needed} bytes, but \
             its data_offsets [{begin}, {end}] span {} bytes",
            end - begin
        ));
    }
    Ok(())
}

/// Checks that the tensors cover the data section exactly once.
fn check_tiling(
    tensors: &[LayoutEntry],
    data_start: usize,
    data_length: usize,
) -> Result<(), String> {
    let mut order: Vec<&LayoutEntry> = tensors.iter().collect();
    order.sort_by_key(|entry| (entry.range.start, entry.range.end));
    let relative = |range: &Range<usize>| (range.start - data_start)..(range.end - data_start);
    let mut covered = 0;
    let mut previous: Option<&LayoutEntry> = None;
    for entry in order {
        let range = relative(&entry.range);
        if range.start < covered {
            let (other, other_range) = match previous {
                Some(other) => (other.name.as_str(), relative(&other.range)),
                None => ("?", 0..covered),
            };
            return Err(format!(
                "tensors `{other}` (bytes {other_range:?}) and `{}` (bytes {range:?}) of the data \
                 section overlap",
                entry.name
            ));
        }
        if range.start > covered {
            return Err(format!(
                "bytes {:?} of the data section belong to no tensor",
                covered..range.start
            ));
        }
        covered = range.end;
        previous = Some(entry);
    }
    if covered != data_length {
        return Err(format!(
            "bytes {:?} at the end of the data section belong to no tensor",
            covered..data_length
        ));
    }
    Ok(())
}

/// A short description of a JSON value for an error message: its kind, and
/// its value when that is short.
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(flag) => format!("the boolean {flag}"),
        Value::Number(number) => format!("the number {number}"),
        Value::String(text) => format!("the string \"{}\"", truncate(text)),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

/// Text from a file, cut short so that a hostile file cannot make an error
/// message arbitrarily long.
pub(crate) fn truncate(text: &str) -> String {
    const LIMIT: usize = 40;
    match text.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    }
}
