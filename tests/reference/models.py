"""Reference forward passes for tests/models.rs, computed with numpy.

Writes tests/reference/fixtures/models/<name>.bin (little-endian float32, one
file per tensor) and models.json (every tensor's shape). The weights are
seeded random draws; the inputs are the first 32 images of the digits data.

Run from the repository root: python3 tests/reference/models.py
"""
import json
import pathlib

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "reference" / "fixtures" / "models"
rng = np.random.default_rng(20261125)
tensors = {}


def save(name, array):
    array = np.ascontiguousarray(array, dtype=np.float32)
    tensors[name] = list(array.shape)
    array.astype("<f4").tofile(OUT / f"{name}.bin")
    return array


def weights(name, shape, fan_in):
    return save(name, rng.normal(0.0, 1.0 / np.sqrt(fan_in), size=shape))


def softmax(x):
    shifted = x - x.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


def conv2d_same(x, w):
    """TensorFlow SAME convolution, stride 1: out = in, pad_total = k - 1,
    half before (rounded down), the rest after."""
    n, h, wd, cin = x.shape
    kh, kw, _, cout = w.shape
    top, left = (kh - 1) // 2, (kw - 1) // 2
    padded = np.zeros((n, h + kh - 1, wd + kw - 1, cin), dtype=np.float64)
    padded[:, top:top + h, left:left + wd, :] = x
    out = np.zeros((n, h, wd, cout), dtype=np.float64)
    for i in range(h):
        for j in range(wd):
            window = padded[:, i:i + kh, j:j + kw, :]
            out[:, i, j, :] = np.tensordot(window, w, axes=([1, 2, 3], [0, 1, 2]))
    return out


def max_pool_2x2(x):
    n, h, w, c = x.shape
    return x.reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    data = np.loadtxt(ROOT / "tests" / "data" / "digits.csv", delimiter=",", skiprows=1)
    images = data[:32, 1:] / 16.0
    x = save("digits_x", images)

    # MLP 64-256-256-10 with relu, then softmax; computed in float64.
    w1 = weights("mlp_w1", (64, 256), 64)
    b1 = weights("mlp_b1", (256,), 64)
    w2 = weights("mlp_w2", (256, 256), 256)
    b2 = weights("mlp_b2", (256,), 256)
    w3 = weights("mlp_w3", (256, 10), 256)
    b3 = weights("mlp_b3", (10,), 256)
    f64 = lambda a: a.astype(np.float64)
    h1 = np.maximum(f64(x) @ f64(w1) + f64(b1), 0.0)
    h2 = np.maximum(h1 @ f64(w2) + f64(b2), 0.0)
    logits = h2 @ f64(w3) + f64(b3)
    save("mlp_logits", logits)
    save("mlp_probabilities", softmax(logits))

    # CNN on 8x8x1: conv 3x3x8 (same) -> relu -> max-pool 2x2 -> conv 3x3x16
    # (same) -> relu -> global average -> dense 16x10 -> softmax.
    images4 = f64(x).reshape(-1, 8, 8, 1)
    k1 = weights("cnn_k1", (3, 3, 1, 8), 9)
    c1 = weights("cnn_c1", (8,), 9)
    k2 = weights("cnn_k2", (3, 3, 8, 16), 72)
    c2 = weights("cnn_c2", (16,), 72)
    wd = weights("cnn_w", (16, 10), 16)
    bd = weights("cnn_b", (10,), 16)
    a1 = np.maximum(conv2d_same(images4, f64(k1)) + f64(c1), 0.0)
    p1 = max_pool_2x2(a1)
    a2 = np.maximum(conv2d_same(p1, f64(k2)) + f64(c2), 0.0)
    pooled = a2.mean(axis=(1, 2))
    cnn_logits = pooled @ f64(wd) + f64(bd)
    save("cnn_probabilities", softmax(cnn_logits))

    (OUT / "models.json").write_text(json.dumps(tensors, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
