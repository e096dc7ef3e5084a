//! Writing variables as a safetensors file; the layout is described in
//! [`SafeTensors`](super::SafeTensors).

use core::fmt::Write as _;
use std::collections::HashSet;
use std::path::Path;

use ndarray::ArrayViewD;

use super::safetensors::METADATA_KEY;
use crate::Error;

/// Writes `tensors` as a safetensors file (dtype `F32`, in the order given,
/// header padded so the data is 8-byte aligned). Views of any layout are
/// written in row-major order.
///
/// # Panics
/// If two tensors share a name, or one is called `__metadata__`, which the
/// format reserves: both are mistakes in the calling program, not in data.
///
/// ```
/// use graph_runtime::weights::{save_safetensors, SafeTensors};
/// use ndarray::array;
///
/// let w = array![[1.0_f32, 2.0], [3.0, 4.0]];
/// let bytes = save_safetensors(&[("w_t", w.t().into_dyn())]);
/// let file = SafeTensors::parse(&bytes).unwrap();
/// assert_eq!(file.get("w_t").unwrap().to_f32_vec().unwrap(), [1.0, 3.0, 2.0, 4.0]);
/// ```
#[must_use]
pub fn save_safetensors(tensors: &[(&str, ArrayViewD<'_, f32>)]) -> Vec<u8> {
    serialize(tensors)
}

/// Writes `tensors` to a safetensors file at `path`, as
/// [`save_safetensors`] lays them out.
///
/// # Panics
/// As [`save_safetensors`].
///
/// ```
/// use graph_runtime::{weights::save_safetensors_file, Error};
/// use ndarray::array;
///
/// let b = array![1.0_f32].into_dyn();
/// let err = save_safetensors_file(&[("b", b.view())], "no/such/dir/b.safetensors").unwrap_err();
/// assert!(matches!(err, Error::Io { action: "write", .. }));
/// ```
pub fn save_safetensors_file(
    tensors: &[(&str, ArrayViewD<'_, f32>)],
    path: impl AsRef<Path>,
) -> Result<(), Error> {
    let path = path.as_ref();
    std::fs::write(path, save_safetensors(tensors)).map_err(|err| Error::Io {
        path: path.display().to_string(),
        action: "write",
        message: err.to_string(),
    })
}

/// Lays out `tensors` as a safetensors file, in the order given.
fn serialize(tensors: &[(&str, ArrayViewD<'_, f32>)]) -> Vec<u8> {
    let mut header = String::from("{");
    let mut offset = 0_usize;
    let mut names = HashSet::new();
    for (index, (name, array)) in tensors.iter().enumerate() {
        assert!(
            *name != METADATA_KEY && names.insert(*name),
            "save_safetensors: tensor name `{name}` is reserved or given twice"
        );
        let length = array.len() * 4;
        if index > 0 {
            header.push(',');
        }
        push_json_string(&mut header, name);
        header.push_str(":{\"dtype\":\"F32\",\"shape\":[");
        for (axis, size) in array.shape().iter().enumerate() {
            if axis > 0 {
                header.push(',');
            }
            let _ = write!(header, "{size}");
        }
        // Writing to a String cannot fail.
        let _ = write!(
            header,
            "],\"data_offsets\":[{offset},{}]}}",
            offset + length
        );
        offset += length;
    }
    header.push('}');
    // Pad with spaces so the data section starts 8-byte aligned, as the
    // reference writer does; readers skip trailing whitespace.
    while header.len() % 8 != 0 {
        header.push(' ');
    }

    let mut bytes = Vec::with_capacity(8 + header.len() + offset);
    bytes.extend_from_slice(&(header.len() as u64).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for (_, array) in tensors {
        for value in array {
            bytes.extend_from_slice(&value.to_le_bytes());
        }
    }
    bytes
}

/// Appends `text` as a JSON string literal.
fn push_json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}
