//! Integer `.npy` files as numpy writes class labels, read as `usize`, and
//! the typed errors for what is not an index. The files are made by
//! `tests/reference/labels.py` (committed, so no Python is needed here).

use std::path::PathBuf;

use graph_runtime::weights::{read_npy_f32, read_npy_usize, F32_DTYPES, INDEX_DTYPES};
use graph_runtime::Error;
use ndarray::{arr0, arr1, arr2, ArrayD};

fn file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/labels")
        .join(name)
}

fn labels() -> ArrayD<usize> {
    arr1(&[2, 0, 1, 9]).into_dyn()
}

#[test]
fn every_integer_width_sign_and_byte_order_reads_as_usize() {
    for name in [
        "i64.npy",
        "u64.npy",
        "i32.npy",
        "u8.npy",
        "i16_big_endian.npy",
    ] {
        assert_eq!(read_npy_usize(file(name)).unwrap(), labels(), "{name}");
    }
}

#[test]
fn fortran_order_and_scalars_keep_their_shape() {
    assert_eq!(
        read_npy_usize(file("fortran.npy")).unwrap(),
        arr2(&[[0, 1, 2], [3, 4, 5]]).into_dyn()
    );
    assert_eq!(
        read_npy_usize(file("scalar.npy")).unwrap(),
        arr0(7).into_dyn()
    );
}

#[test]
fn a_negative_label_is_an_error_naming_the_file_value_and_position() {
    let path = file("negative.npy");
    let error = read_npy_usize(&path).unwrap_err();
    assert_eq!(
        error,
        Error::NotAnIndex {
            file: path.display().to_string(),
            value: -1,
            position: vec![1, 0],
        }
    );
    assert!(
        error.to_string().ends_with("negative.npy` holds -1 at position [1, 0], which is not an index: indices are whole numbers from 0 to 18446744073709551615")
            || cfg!(not(target_pointer_width = "64")),
        "{error}"
    );
}

#[test]
fn floats_are_not_read_as_labels_nor_integers_as_floats() {
    let floats = file("floats.npy");
    assert_eq!(
        read_npy_usize(&floats).unwrap_err(),
        Error::FileDType {
            file: floats.display().to_string(),
            expected: INDEX_DTYPES,
            actual: "<f4".to_owned(),
        }
    );
    assert_eq!(
        read_npy_f32(&floats).unwrap(),
        arr1(&[2.0_f32, 0.0]).into_dyn()
    );
    let integers = file("i64.npy");
    let error = read_npy_f32(&integers).unwrap_err();
    assert_eq!(
        error,
        Error::FileDType {
            file: integers.display().to_string(),
            expected: F32_DTYPES,
            actual: "<i8".to_owned(),
        }
    );
    assert!(
        error.to_string().ends_with(
            "i64.npy` has dtype '<i8', but reading it needs '<f4' (or big-endian '>f4')"
        ),
        "{error}"
    );
}

#[test]
fn a_missing_file_is_an_io_error() {
    let error = read_npy_usize(file("no_such.npy")).unwrap_err();
    assert!(
        matches!(error, Error::Io { ref path, action: "read", .. } if path.ends_with("no_such.npy")),
        "{error:?}"
    );
}
