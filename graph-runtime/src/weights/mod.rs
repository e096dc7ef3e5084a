//! Loading and saving a graph's variables: safetensors and `.npy` files.
//!
//! Generated code loads variables in three steps: open the weights
//! ([`Weights::from_safetensors_file`], [`Weights::from_npy_dir`], ...),
//! [`take`](Weights::take) each variable by name with its declared shape, and
//! [`finish`](Weights::finish), which in strict mode rejects tensors that no
//! variable took. A tensor whose name in the file differs from the
//! variable's is matched through [`Weights::rename`].
//!
//! ```
//! use graph_runtime::weights::{save_safetensors, Weights};
//! use ndarray::{array, Array1, Array2, Ix1, Ix2};
//!
//! // Trained elsewhere, saved as "dense.kernel" and "dense.bias".
//! let kernel = array![[0.5_f32, -1.0], [2.0, 0.25]];
//! let bias = array![0.1_f32, 0.2];
//! let bytes = save_safetensors(&[
//!     ("dense.kernel", kernel.view().into_dyn()),
//!     ("dense.bias", bias.view().into_dyn()),
//! ]);
//!
//! let mut weights = Weights::from_safetensors_bytes(bytes)?
//!     .rename(&[("w", "dense.kernel"), ("b", "dense.bias")]);
//! let w: Array2<f32> = weights.take::<Ix2>("w", &[2, 2])?;
//! let b: Array1<f32> = weights.take::<Ix1>("b", &[2])?;
//! weights.finish(true)?;
//! assert_eq!((w, b), (kernel, bias));
//! # Ok::<(), graph_runtime::Error>(())
//! ```
//!
//! Every malformed input is an [`Error`] naming the file and the tensor, never
//! a panic: the parsers check lengths, offsets and sizes with checked
//! arithmetic before touching data (the format rules are in the
//! [`SafeTensors`] and [`Npy`] docs), and both are fuzzed. Values are not
//! inspected: NaN and infinite weights load as they are, bit for bit, since
//! a file may hold them on purpose (masks, sentinels).

mod arrays;
mod dtype;
mod literal;
mod npy;
mod safetensors;
mod save;

use core::fmt;
use core::ops::Range;
use std::collections::HashMap;
use std::path::Path;

use ndarray::{Array, ArrayD, Dimension, IxDyn, ShapeBuilder};

pub use self::arrays::{
    parse_npy_f32, parse_npy_usize, read_npy_f32, read_npy_usize, F32_DTYPES, INDEX_DTYPES,
};
pub use self::dtype::Dtype;
pub use self::npy::Npy;
pub use self::safetensors::{SafeTensors, TensorView};
pub use self::save::{save_safetensors, save_safetensors_file};
use crate::Error;

/// The tensors of a weight file, ready to be taken by a graph's variables.
///
/// `Weights` owns the file's bytes and decodes a tensor only when it is
/// taken, so loading costs one copy of the data. It remembers which tensors
/// were taken, for [`Weights::finish`].
pub struct Weights {
    buffers: Vec<Vec<u8>>,
    tensors: Vec<Stored>,
    index: HashMap<String, usize>,
    renames: HashMap<String, String>,
    origin: String,
}

/// One tensor: what the file declares, and where its bytes are.
struct Stored {
    name: String,
    /// The file holding the tensor, for errors.
    file: String,
    /// The dtype as the file spells it.
    dtype: String,
    /// How an `f32` variable would spell its dtype in this format.
    expected_dtype: &'static str,
    shape: Vec<usize>,
    /// `Some` when the data is `f32`: how it is laid out.
    encoding: Option<Encoding>,
    buffer: usize,
    range: Range<usize>,
    taken: bool,
}

#[derive(Debug, Clone, Copy)]
struct Encoding {
    big_endian: bool,
    fortran_order: bool,
}

impl Weights {
    /// Parses the bytes of a safetensors file; errors call it
    /// `<safetensors bytes>`.
    ///
    /// ```
    /// use graph_runtime::{weights::Weights, Error};
    ///
    /// let err = Weights::from_safetensors_bytes(vec![1, 2, 3]).err().unwrap();
    /// assert!(matches!(err, Error::CorruptFile { .. }));
    /// ```
    pub fn from_safetensors_bytes(bytes: Vec<u8>) -> Result<Self, Error> {
        Self::from_safetensors_named(bytes, safetensors::IN_MEMORY.to_owned())
    }

    /// Reads and parses a safetensors file.
    ///
    /// ```
    /// use graph_runtime::{weights::Weights, Error};
    ///
    /// let err = Weights::from_safetensors_file("no/such/model.safetensors").err().unwrap();
    /// assert!(matches!(err, Error::Io { action: "read", .. }));
    /// assert!(err.to_string().starts_with("cannot read `no/such/model.safetensors`: "));
    /// ```
    pub fn from_safetensors_file(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let bytes = read(path)?;
        Self::from_safetensors_named(bytes, path.display().to_string())
    }

    fn from_safetensors_named(bytes: Vec<u8>, file: String) -> Result<Self, Error> {
        let layout = safetensors::Layout::parse(&bytes, &file)?;
        let tensors = layout
            .tensors
            .into_iter()
            .map(|entry| Stored {
                name: entry.name,
                file: file.clone(),
                dtype: entry.dtype.name().to_owned(),
                expected_dtype: Dtype::F32.name(),
                shape: entry.shape,
                encoding: (entry.dtype == Dtype::F32).then_some(Encoding {
                    big_endian: false,
                    fortran_order: false,
                }),
                buffer: 0,
                range: entry.range,
                taken: false,
            })
            .collect();
        Ok(Self::new(vec![bytes], tensors, file))
    }

    /// Reads `dir/<name>.npy` for each of `names`, as `numpy.save` writes
    /// them: the tensor called `name` is that file's array.
    ///
    /// The names are the tensors' names (the file names without `.npy`);
    /// with [`Weights::rename`], list the names on the file side. A file
    /// that cannot be read, a missing one included, is [`Error::Io`].
    ///
    /// ```
    /// use graph_runtime::{weights::Weights, Error};
    ///
    /// let err = Weights::from_npy_dir("no/such/dir", &["w1"]).err().unwrap();
    /// assert!(matches!(err, Error::Io { ref path, .. } if path.ends_with("w1.npy")));
    /// ```
    pub fn from_npy_dir(dir: impl AsRef<Path>, names: &[&str]) -> Result<Self, Error> {
        let dir = dir.as_ref();
        let mut buffers = Vec::new();
        let mut tensors: Vec<Stored> = Vec::new();
        for &name in names {
            if tensors.iter().any(|stored| stored.name == name) {
                continue;
            }
            let path = dir.join(format!("{name}.npy"));
            let file = path.display().to_string();
            let bytes = read(&path)?;
            let layout = npy::Layout::parse(&bytes, &file)?;
            let encoding = npy::f32_byte_order(&layout.descr).map(|big_endian| Encoding {
                big_endian,
                fortran_order: layout.fortran_order,
            });
            tensors.push(Stored {
                name: name.to_owned(),
                file,
                dtype: layout.descr,
                expected_dtype: npy::F32_DESCR,
                shape: layout.shape,
                encoding,
                buffer: buffers.len(),
                range: layout.data,
                taken: false,
            });
            buffers.push(bytes);
        }
        Ok(Self::new(buffers, tensors, dir.display().to_string()))
    }

    fn new(buffers: Vec<Vec<u8>>, tensors: Vec<Stored>, origin: String) -> Self {
        let index = tensors
            .iter()
            .enumerate()
            .map(|(position, stored)| (stored.name.clone(), position))
            .collect();
        Weights {
            buffers,
            tensors,
            index,
            renames: HashMap::new(),
            origin,
        }
    }

    /// Matches variables to tensors named differently in the file: each pair
    /// is (variable name in the graph, tensor name in the file). Variables
    /// not listed look up their own name. Two variables may name the same
    /// tensor (tied weights). Later calls add to, and override, earlier ones.
    ///
    /// ```
    /// use graph_runtime::weights::{save_safetensors, Weights};
    /// use ndarray::{array, Ix1};
    ///
    /// let bytes = save_safetensors(&[("embedding", array![1.0_f32, 2.0].into_dyn().view())]);
    /// let mut weights = Weights::from_safetensors_bytes(bytes)?
    ///     .rename(&[("encoder", "embedding"), ("decoder", "embedding")]);
    /// let encoder = weights.take::<Ix1>("encoder", &[2])?;
    /// let decoder = weights.take::<Ix1>("decoder", &[2])?;
    /// assert_eq!(encoder, decoder);
    /// # Ok::<(), graph_runtime::Error>(())
    /// ```
    #[must_use]
    pub fn rename(mut self, pairs: &[(&str, &str)]) -> Self {
        for &(variable, tensor) in pairs {
            self.renames.insert(variable.to_owned(), tensor.to_owned());
        }
        self
    }

    /// Decodes the tensor for variable `name`, checking that it is `f32` and
    /// has the variable's `shape`, and marks it taken.
    ///
    /// The array is in standard (row-major) layout. NaN and infinite values
    /// are returned as stored.
    ///
    /// # Panics
    /// If `D` has a fixed number of axes other than `shape.len()`: generated
    /// code derives both from the same declaration.
    ///
    /// ```
    /// use graph_runtime::{weights::{save_safetensors, Weights}, Error};
    /// use ndarray::{array, Ix2};
    ///
    /// let w = array![[1.0_f32, 2.0, 3.0]];
    /// let bytes = save_safetensors(&[("w", w.view().into_dyn())]);
    /// let mut weights = Weights::from_safetensors_bytes(bytes)?;
    ///
    /// let err = weights.take::<Ix2>("w", &[3, 1]).unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "tensor `w` in `<safetensors bytes>` has shape [1, 3], but variable `w` has shape [3, 1]"
    /// );
    /// let err = weights.take::<Ix2>("v", &[1, 3]).unwrap_err();
    /// assert_eq!(err.to_string(), "`<safetensors bytes>` has no tensor `v`, which variable `v` needs");
    /// assert_eq!(weights.take::<Ix2>("w", &[1, 3])?, w);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn take<D: Dimension>(
        &mut self,
        name: &'static str,
        shape: &'static [usize],
    ) -> Result<Array<f32, D>, Error> {
        if D::NDIM.is_some_and(|rank| rank != shape.len()) {
            rank_panic(name, shape, D::NDIM);
        }
        let tensor = self.renames.get(name).map_or(name, String::as_str);
        let Some(&position) = self.index.get(tensor) else {
            return Err(Error::MissingTensor {
                variable: name,
                tensor: tensor.to_owned(),
                file: self.origin.clone(),
            });
        };
        let stored = &mut self.tensors[position];
        stored.taken = true;
        let Some(encoding) = stored.encoding else {
            return Err(Error::TensorDType {
                variable: name,
                tensor: stored.name.clone(),
                file: stored.file.clone(),
                expected: stored.expected_dtype,
                actual: stored.dtype.clone(),
            });
        };
        if stored.shape != shape {
            return Err(Error::TensorShape {
                variable: name,
                tensor: stored.name.clone(),
                file: stored.file.clone(),
                expected: shape,
                actual: stored.shape.clone(),
            });
        }
        let bytes = &self.buffers[stored.buffer][stored.range.clone()];
        let values = decode_f32(bytes, encoding.big_endian);
        let array = to_array(shape, values, encoding.fortran_order)
            .and_then(|array| array.into_dimensionality::<D>().ok());
        match array {
            Some(array) => Ok(array),
            // The parser checked the byte length against the shape, and the
            // rank against `D` is checked above.
            None => Err(Error::CorruptFile {
                file: stored.file.clone(),
                reason: format!("tensor `{}` does not fit its shape {shape:?}", stored.name),
            }),
        }
    }

    /// Like [`take`](Self::take), for a variable a file may leave out, such
    /// as an optimizer's state (moments, step counts): zeros of `shape` when
    /// there is no tensor of that name, and the same checks as `take` when
    /// there is.
    ///
    /// ```
    /// use graph_runtime::{weights::{save_safetensors, Weights}, Error};
    /// use ndarray::{array, Array1, Ix1};
    ///
    /// let m = array![0.5_f32, 1.0];
    /// let mut weights = Weights::from_safetensors_bytes(save_safetensors(&[("m", m.view().into_dyn())]))?;
    /// assert_eq!(weights.take_or_zeros::<Ix1>("m", &[2])?, m);
    /// assert_eq!(weights.take_or_zeros::<Ix1>("v", &[2])?, Array1::<f32>::zeros(2));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn take_or_zeros<D: Dimension>(
        &mut self,
        name: &'static str,
        shape: &'static [usize],
    ) -> Result<Array<f32, D>, Error> {
        let tensor = self.renames.get(name).map_or(name, String::as_str);
        if self.index.contains_key(tensor) {
            return self.take(name, shape);
        }
        if D::NDIM.is_some_and(|rank| rank != shape.len()) {
            rank_panic(name, shape, D::NDIM);
        }
        let zeros = ndarray::ArrayD::<f32>::zeros(shape.to_vec());
        zeros
            .into_dimensionality::<D>()
            .map_err(|_| Error::CorruptFile {
                file: self.origin.clone(),
                reason: format!("variable `{name}` has no shape of rank {}", shape.len()),
            })
    }

    /// Ends loading. When `strict`, a tensor that no variable took is
    /// [`Error::UnexpectedTensor`] (the first one in file order); otherwise
    /// extra tensors are ignored.
    ///
    /// ```
    /// use graph_runtime::{weights::{save_safetensors, Weights}, Error};
    /// use ndarray::array;
    ///
    /// let extra = array![0.0_f32].into_dyn();
    /// let bytes = save_safetensors(&[("momentum", extra.view())]);
    /// let weights = Weights::from_safetensors_bytes(bytes.clone())?;
    /// assert_eq!(
    ///     weights.finish(true).unwrap_err().to_string(),
    ///     "`<safetensors bytes>` holds tensor `momentum`, which no variable of the graph takes; \
    ///      load non-strictly to ignore extra tensors"
    /// );
    /// Weights::from_safetensors_bytes(bytes)?.finish(false)?;
    /// # Ok::<(), Error>(())
    /// ```
    pub fn finish(self, strict: bool) -> Result<(), Error> {
        if !strict {
            return Ok(());
        }
        match self.tensors.into_iter().find(|stored| !stored.taken) {
            Some(stored) => Err(Error::UnexpectedTensor {
                tensor: stored.name,
                file: stored.file,
            }),
            None => Ok(()),
        }
    }

    /// The tensors' names in the file, in file order (for `.npy`, in the
    /// order they were listed).
    ///
    /// ```
    /// use graph_runtime::weights::{save_safetensors, Weights};
    /// use ndarray::array;
    ///
    /// let x = array![1.0_f32].into_dyn();
    /// let bytes = save_safetensors(&[("b", x.view()), ("a", x.view())]);
    /// let weights = Weights::from_safetensors_bytes(bytes)?;
    /// assert_eq!(weights.names().collect::<Vec<_>>(), ["b", "a"]);
    /// # Ok::<(), graph_runtime::Error>(())
    /// ```
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.iter().map(|stored| stored.name.as_str())
    }
}

impl fmt::Debug for Weights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_map();
        for stored in &self.tensors {
            list.entry(
                &stored.name,
                &format_args!(
                    "{} {:?}{}",
                    stored.dtype,
                    stored.shape,
                    if stored.taken { " (taken)" } else { "" }
                ),
            );
        }
        list.finish()
    }
}

fn read(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|err| Error::Io {
        path: path.display().to_string(),
        action: "read",
        message: err.to_string(),
    })
}

/// The number of elements of an array of `shape`, or `None` if ndarray
/// cannot represent it: ndarray requires the product of the non-zero sizes to
/// fit in `isize` even when another size is zero (found by fuzzing: a shape
/// `(0, 2^62, 4)` has no elements, yet no array can have it).
pub(crate) fn element_count(shape: &[usize]) -> Option<usize> {
    let mut non_zero = 1_usize;
    let mut empty = false;
    for &size in shape {
        if size == 0 {
            empty = true;
        } else {
            non_zero = non_zero.checked_mul(size)?;
        }
    }
    if non_zero > isize::MAX.unsigned_abs() {
        return None;
    }
    Some(if empty { 0 } else { non_zero })
}

/// Decodes 4-byte floats; bit patterns (NaN payloads included) are kept.
pub(crate) fn decode_f32(bytes: &[u8], big_endian: bool) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|chunk| {
            let word = [chunk[0], chunk[1], chunk[2], chunk[3]];
            if big_endian {
                f32::from_be_bytes(word)
            } else {
                f32::from_le_bytes(word)
            }
        })
        .collect()
}

/// An array of `shape` in standard layout from `values` stored in row-major
/// or, when `fortran_order`, column-major order; `None` if the counts differ.
pub(crate) fn to_array<T: Clone>(
    shape: &[usize],
    values: Vec<T>,
    fortran_order: bool,
) -> Option<ArrayD<T>> {
    if fortran_order {
        let array = ArrayD::from_shape_vec(IxDyn(shape).f(), values).ok()?;
        Some(array.as_standard_layout().into_owned())
    } else {
        ArrayD::from_shape_vec(IxDyn(shape), values).ok()
    }
}

#[cold]
#[track_caller]
fn rank_panic(name: &str, shape: &[usize], rank: Option<usize>) -> ! {
    panic!(
        "Weights::take(\"{name}\", {shape:?}) asked for an array with {} axes",
        rank.unwrap_or_default()
    )
}
