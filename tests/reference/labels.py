#!/usr/bin/env python3
"""Integer `.npy` files, as numpy writes class labels and indices, for
`graph_runtime::weights::read_npy_usize` (graph-runtime/tests/npy_labels.rs).

Writes graph-runtime/tests/data/labels/ (wiping it first). The outputs are
committed, so running the Rust tests needs no Python: rerun this script
(`pip install numpy`) after changing a case, and review the diff. The values
are listed in the Rust test, which checks every file against them.
"""

import pathlib
import shutil

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "graph-runtime" / "tests" / "data" / "labels"


def main():
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    labels = [2, 0, 1, 9]
    # numpy's default integer on 64-bit Linux: what `np.save(labels)` writes.
    np.save(OUT / "i64.npy", np.array(labels, dtype="<i8"))
    np.save(OUT / "u64.npy", np.array(labels, dtype="<u8"))
    np.save(OUT / "i32.npy", np.array(labels, dtype="<i4"))
    np.save(OUT / "u8.npy", np.array(labels, dtype="|u1"))
    np.save(OUT / "i16_big_endian.npy", np.array(labels, dtype=">i2"))
    # Column-major data of a [2, 3] array whose row-major values are 0..6.
    np.save(OUT / "fortran.npy", np.asfortranarray(np.arange(6, dtype="<i8").reshape(2, 3)))
    np.save(OUT / "scalar.npy", np.array(7, dtype="<i8"))
    # Errors: a negative label, at row 1 column 0, and labels saved as floats.
    np.save(OUT / "negative.npy", np.array([[3, 1], [-1, 2]], dtype="<i8"))
    np.save(OUT / "floats.npy", np.array([2.0, 0.0], dtype="<f4"))


if __name__ == "__main__":
    main()
