//! Initializers and `Constant` values: a `TensorProto`'s values, from its
//! `raw_data` (little-endian) or its typed field.

use crate::proto::TensorProto;
use crate::value::{Constant, Data};

/// ONNX's name of a `TensorProto.DataType`.
pub fn dtype_name(code: i32) -> String {
    let name = match code {
        1 => "float",
        2 => "uint8",
        3 => "int8",
        4 => "uint16",
        5 => "int16",
        6 => "int32",
        7 => "int64",
        8 => "string",
        9 => "bool",
        10 => "float16",
        11 => "double",
        12 => "uint32",
        13 => "uint64",
        14 => "complex64",
        15 => "complex128",
        16 => "bfloat16",
        other => return format!("data type {other}"),
    };
    name.to_string()
}

/// The constant a tensor holds, or why it cannot be read.
pub fn read(tensor: &TensorProto) -> Result<Constant, String> {
    if tensor.data_location == 1 || !tensor.external_data.is_empty() {
        return Err(
            "its values are in an external file, which the importer does not read; save the \
             model with its weights inside (`onnx.save(model, path, save_as_external_data=False)`)"
                .to_string(),
        );
    }
    let mut dims = Vec::with_capacity(tensor.dims.len());
    for &d in &tensor.dims {
        dims.push(usize::try_from(d).map_err(|_| format!("a negative dim {d}"))?);
    }
    let len = crate::value::checked_len(&dims).ok_or_else(|| {
        format!("its dims {dims:?} multiply to more elements than memory can address")
    })?;
    let raw = &tensor.raw_data;
    let data = match tensor.data_type {
        1 => Data::F32(if raw.is_empty() {
            tensor.float_data.clone()
        } else {
            raw_values(raw, len, 4)?
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()
        }),
        11 => Data::F32(if raw.is_empty() {
            #[allow(clippy::cast_possible_truncation)]
            tensor.double_data.iter().map(|&v| v as f32).collect()
        } else {
            #[allow(clippy::cast_possible_truncation)]
            raw_values(raw, len, 8)?
                .map(|b| f64::from_le_bytes(b.try_into().unwrap_or([0; 8])) as f32)
                .collect()
        }),
        10 => Data::F32(if raw.is_empty() {
            // float16 values are kept in `int32_data`, one per element.
            tensor
                .int32_data
                .iter()
                .map(|&v| half_to_f32(u16::try_from(v & 0xffff).unwrap_or(0)))
                .collect()
        } else {
            raw_values(raw, len, 2)?
                .map(|b| half_to_f32(u16::from_le_bytes([b[0], b[1]])))
                .collect()
        }),
        7 => Data::Int(if raw.is_empty() {
            tensor.int64_data.clone()
        } else {
            raw_values(raw, len, 8)?
                .map(|b| i64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
                .collect()
        }),
        6 => Data::Int(if raw.is_empty() {
            tensor.int32_data.iter().map(|&v| i64::from(v)).collect()
        } else {
            raw_values(raw, len, 4)?
                .map(|b| i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])))
                .collect()
        }),
        9 => Data::Int(if raw.is_empty() {
            tensor
                .int32_data
                .iter()
                .map(|&v| i64::from(v != 0))
                .collect()
        } else {
            raw.iter().map(|&b| i64::from(b != 0)).collect()
        }),
        other => {
            return Err(format!(
                "it holds {}, which the importer does not read (it reads float, double, \
                 float16, int64, int32 and bool)",
                dtype_name(other)
            ))
        }
    };
    let count = match &data {
        Data::F32(v) => v.len(),
        Data::Int(v) => v.len(),
        Data::Dims(v) => v.len(),
    };
    if count != len {
        return Err(format!(
            "it has {count} values for shape {dims:?} ({len} elements): the file is corrupt"
        ));
    }
    Ok(Constant {
        dims,
        data,
        origin: tensor.name.clone(),
    })
}

/// `raw` as `len` chunks of `size` bytes, or an error if its length is not
/// exactly that.
fn raw_values(
    raw: &[u8],
    len: usize,
    size: usize,
) -> Result<std::slice::ChunksExact<'_, u8>, String> {
    if Some(raw.len()) == len.checked_mul(size) {
        Ok(raw.chunks_exact(size))
    } else {
        Err(format!(
            "it has {} bytes of raw data for {len} elements of {size} bytes: the file is \
             corrupt or truncated",
            raw.len()
        ))
    }
}

/// An IEEE half-precision value as `f32` (exactly: every half is an `f32`).
fn half_to_f32(bits: u16) -> f32 {
    let sign = u32::from(bits >> 15) << 31;
    let exponent = u32::from((bits >> 10) & 0x1f);
    let mantissa = u32::from(bits & 0x3ff);
    let magnitude = match (exponent, mantissa) {
        (0, 0) => 0,
        // Subnormal: mantissa · 2^-24, exact in f32.
        (0, m) => {
            #[allow(clippy::cast_precision_loss)]
            let value = m as f32 * (1.0 / 16_777_216.0);
            value.to_bits()
        }
        (0x1f, 0) => 0x7f80_0000,
        (0x1f, m) => 0x7fc0_0000 | (m << 13),
        (e, m) => ((e + 112) << 23) | (m << 13),
    };
    f32::from_bits(sign | magnitude)
}

#[cfg(test)]
mod tests {
    use super::half_to_f32;

    #[test]
    fn halves_convert_exactly() {
        assert_eq!(half_to_f32(0x3c00), 1.0);
        assert_eq!(half_to_f32(0xc000), -2.0);
        assert_eq!(half_to_f32(0x3555), 0.333_251_95);
        assert_eq!(half_to_f32(0x0001), 5.960_464_5e-8);
        assert_eq!(half_to_f32(0x7c00), f32::INFINITY);
        assert!(half_to_f32(0x7e00).is_nan());
    }
}
