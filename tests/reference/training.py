#!/usr/bin/env python3
"""Reference gradients and optimizer trajectories for staticflow's autodiff and
optimizers, computed with JAX (float64, CPU) and checked independently with
numpy.

Writes three JSON files to fixtures/training/ beside this script:
    mlp_grads.json       loss, logits and gradients of a 64-32-10 MLP
    cnn_grads.json       the same for a small conv net, in three configurations
    sgd_trajectory.json  10 full-batch training steps of the MLP under six
                         optimizers: per-step losses, final weights and state
The fixtures are committed, so the Rust tests need no Python. To regenerate
(`pip install jax optax`; made with jax 0.10.2, optax 0.2.8, numpy 2.4.6):
    python3 tests/reference/training.py
The output is deterministic: rerunning it must leave `git diff` empty.

CONVENTIONS (as in kernels.py)
- Every input, initial weight and hyperparameter is a float32, drawn from
  numpy's default_rng(SEED) (then cast to float32) or written as a decimal
  constant (then rounded to the nearest float32: lr 0.1 means the float32
  0.100000001490116..., beta2 0.999 means 0.999000012874603..., epsilon 1e-3
  means 0.001000000047497...). All references are computed in float64 from
  exactly those float32 values, and every stored result is the float64
  reference rounded once to float32.
- A tensor is {"shape": [...], "data": [...]}, row-major. Float data hold
  float32 values, integer data (class labels) hold whole numbers. A scalar
  result (a loss, a norm) is a bare JSON number, also a float32 value.
- Numbers are written as the shortest decimal that reads back as the same
  float32 when parsed as a float64 and then rounded to float32 (serde_json's
  `as_f64() as f32`), and stays so even if that float64 parse is off by a
  couple of ulps; where no short decimal is that robust, the exact float64
  expansion of the float32 is written instead. Parsing straight to f32 gives
  the same value. -0.0 is written as 0.
- Tensors are never reshaped behind the reader's back: shapes are listed and
  data are row-major in those shapes (NHWC for images, HWIO for filters,
  [in, out] for dense weights, so `y = x @ w + b`).

THE MLP (mlp_grads.json, sgd_trajectory.json)
    x [8, 64], w1 [64, 32], b1 [32], w2 [32, 10], b2 [10]
    a = x @ w1 + b1                 hidden pre-activation [8, 32]
    h = relu(a)   or  h = tanh(a)   (relu'(0) would be 0, but no pre-activation
                                     is within 1e-4 of 0, see MARGINS)
    logits = h @ w2 + b2            [8, 10]
Losses, with N = 8 examples and C = 10 classes:
    softmax_cross_entropy_indices: labels [8] are class indices 0..9;
        loss = (1/N) * sum_n -log_softmax(logits[n])[labels[n]]
        d loss/d logits = (softmax(logits) - onehot(labels)) / N
    softmax_cross_entropy (probability labels y [8, 10], float):
        loss = (1/N) * sum_n sum_c -y[n,c] * log_softmax(logits[n])[c]
        d loss/d logits = (softmax(logits) * sum_c y[n,c] - y) / N
    mse (targets y [8, 10]): mean over all N*C = 80 elements:
        loss = (1/80) * sum_{n,c} (logits[n,c] - y[n,c])^2
        d loss/d logits = 2 * (logits - y) / 80
where log_softmax(z)[c] = z[c] - log(sum_j exp(z[j])). Backprop (what the
numpy check writes out): dw2 = h^T @ dlogits, db2 = column sums of dlogits,
dh = dlogits @ w2^T, da = dh * [a > 0] (relu) or dh * (1 - h^2) (tanh),
dw1 = x^T @ da, db1 = column sums of da, dx = da @ w1^T.
Cases in mlp_grads.json (all on the same x and weights):
    relu_ce_indices   relu,  softmax_cross_entropy_indices on labels
    relu_ce_onehot    relu,  softmax_cross_entropy on onehot(labels) as float
                      (the same numbers as relu_ce_indices, through the
                      probability-label op)
    relu_ce_soft      relu,  softmax_cross_entropy on soft labels: each row is
                      k/16 for random whole k summing to 16 (exact in float32,
                      each row sums to exactly 1)
    tanh_mse_onehot   tanh,  mse against onehot(labels) as float
Initial draws (N(mean, variance), cast to float32; the Rust side reads the
stored values and never redraws), in this order from default_rng(SEED),
SEED = 20260301: x ~ N(0, 1) [8, 64];
labels ~ integers [0, 10) [8]; w1 ~ N(0, 1/64); b1 ~ N(0, 0.1^2);
w2 ~ N(0, 1/32); b2 ~ N(0, 0.1^2); soft-label counts (see soft_labels()).

THE CNN (cnn_grads.json)
    x [2, 8, 8, 1] NHWC, labels [2] class indices, filter k [3, 3, 1, 4] HWIO,
    bias c [4], dense w [F, 10], b [10]
    y = conv2d(x, k, strides, padding, dilation 1) + c     (TensorFlow rule)
    [layer_norm config only] y = layer_norm(y) over the last axis (the 4
        channels): mu = mean_c y, var = mean_c (y - mu)^2 (biased),
        y = (y - mu) / sqrt(var + eps) * gamma + beta, eps = float32(1e-3),
        gamma [4], beta [4]
    y = relu(y)
    y = pool 2x2, stride 2, VALID (max or average) -> [2, P, P, 4]
    f = reshape(y, [2, F]) with F = P*P*4, row-major in NHWC, i.e.
        f[n, (i*P + j)*4 + ch] = y[n, i, j, ch]
    logits = f @ w + b; loss = softmax_cross_entropy_indices as above (N = 2)
TensorFlow's conv2d rule: SAME gives out = ceil(in / stride) with total
padding max((out-1)*stride + k - in, 0), the smaller half before (top/left);
VALID gives out = floor((in - k) / stride) + 1 and no padding. Configs:
    conv_same_maxpool       stride 1, SAME: conv out [2,8,8,4], max pool to
                            [2,4,4,4], F = 64
    conv_valid_s2_avgpool   stride 2, VALID: conv out [2,3,3,4]; the 2x2/2
                            VALID average pool reads rows/cols 0..1 only (row
                            and column 2 get zero gradient) -> [2,1,1,4], F = 4
    conv_same_layernorm_maxpool   as the first, with layer_norm after conv+c
Max pool's gradient goes to the window's maximum; no window has two positive
values within 1e-4 of each other (see MARGINS), so ties never matter (a window
of zeros sends its gradient into relu'(negative) = 0 whichever element gets
it). The configs draw in turn from one default_rng(SEED + 1), each fresh
values in this order: x ~ N(0, 1); labels ~
integers [0, 10) [2]; k ~ N(0, 1/9); c ~ N(0, 0.1^2); [gamma ~ 1 + N(0,
0.1^2), beta ~ N(0, 0.1^2)]; w ~ N(0, 1/F); b ~ N(0, 0.1^2).
The numpy check: the forward pass against kernels.py's loop references for
conv2d and pools (the ones the kernel tests use), and every gradient element
against a central finite difference (step 1e-6, to 1e-7) of a separate
numpy forward pass.

THE OPTIMIZERS (sgd_trajectory.json)
The relu MLP with softmax_cross_entropy_indices (case relu_ce_indices, same
x, labels and initial weights), full batch, 10 steps from the initial
weights. Step t = 1..10: g = gradient of the loss at the current weights
(all four of w1, b1, w2, b2 are trained, biases included in everything
below), then the update. State starts at zero.
    sgd        lr 0.1:          w -= lr*g
    momentum   lr 0.1, mu 0.9:  v = mu*v + g;  w -= lr*v   (PyTorch SGD)
    nesterov   lr 0.1, mu 0.9:  v = mu*v + g;  w -= lr*(g + mu*v)
                                (PyTorch SGD with nesterov=True, v the new v)
    adam       lr 0.01, b1 0.9, b2 0.999, eps 1e-8:
               m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2
               mh = m / (1 - b1^t);  vh = v / (1 - b2^t)
               w -= lr * mh / (sqrt(vh) + eps)
    adamw      adam plus decoupled weight decay wd 0.01 on every parameter:
               w -= lr * (mh / (sqrt(vh) + eps) + wd*w), with the w before
               this step (PyTorch AdamW: w *= 1 - lr*wd, then the adam step)
    adam_clip  adam on clipped gradients: norm = sqrt(sum of g^2 over every
               element of all four gradients); g *= min(1, 1.0 / norm) before
               the adam update (m and v accumulate the clipped g)
Stored per run: losses[i] = loss before step i+1 (10 values), final_loss =
loss after step 10, the final weights, the optimizer state after step 10
(momentum/nesterov: velocity v; adam*: t = 10, m, v), adam_clip's unclipped
global norms per step, and resume_losses: 5 more steps run in float64 from
exactly the stored float32 final weights and state (t continuing 11..15),
resume_losses[i] = loss before step 11+i, and resume_final_loss after step
15. A Rust test loads final + state, runs 5 steps, and compares.
The JAX side uses optax (sgd, sgd with momentum / nesterov, adam, adamw,
chain(clip_by_global_norm, adam)) and numpy re-implements every optimizer
from the formulas above; both must agree to 1e-12 (every check in this
script is elementwise |a - b| <= tol * (1 + |b|)).

MARGINS AND FLOAT32 (why a float32 implementation can follow these)
A float32 implementation is a few ulps off the float64 reference; that only
matters where the math is discontinuous. The script asserts, for every
forward pass whose results are stored (every training step and resumed step
included), that every relu pre-activation has |a| >= 1e-4 and that max-pool
windows have their two largest positive values >= 1e-4 apart; the minima
found are stored under "margins" (about 1.5e-4 at worst, in the momentum
trajectory). It also runs everything again in float32 (numpy for the MLP
and the trajectories, JAX for the CNN) and asserts that gradients, final
weights and optimizer state stay within 1e-5 of the references, relative to
each tensor's largest magnitude, and trajectory losses within 1e-4 relative.
Seen: gradients within 4e-7; final weights and state within 4e-7; losses
within 5e-6 relative (momentum/nesterov reach losses near 3e-4, where
cross-entropy's cancellation costs digits). Suggested Rust tolerances: 1e-4
relative + 1e-5 absolute for gradients, weights and optimizer state; 1e-4
relative for losses.

JSON LAYOUT (T = tensor {"shape", "data"}; scalars are bare numbers)
mlp_grads.json:
    {"comment": str, "x": T[8,64], "labels": T[8] (integers),
     "params": {"w1": T[64,32], "b1": T[32], "w2": T[32,10], "b2": T[10]},
     "margins": {"relu_preactivation": number},
     "cases": [ {"name": str, "hidden": "relu"|"tanh",
                 "loss": "softmax_cross_entropy_indices"|"softmax_cross_entropy"|"mse",
                 "targets": T[8] integers for the indices loss, else T[8,10],
                 "loss_value": number, "logits": T[8,10],
                 "grads": {"w1", "b1", "w2", "b2", "x"} -> T, shaped as the
                          parameter or input} ... ]}   (4 cases, order above)
cnn_grads.json:
    {"comment": str, "cases": [ {"name": str, "strides": [s, s],
        "padding": "same"|"valid", "dilations": [1, 1],
        "layer_norm": {"epsilon": 0.001, "axis": -1}  (only in the layer_norm
                      config; absent elsewhere),
        "pool": "max"|"avg", "pool_window": [2, 2], "pool_strides": [2, 2],
        "pool_padding": "valid", "x": T[2,8,8,1], "labels": T[2] integers,
        "params": {"k": T[3,3,1,4], "c": T[4], ("gamma": T[4], "beta": T[4],)
                   "w": T[F,10], "b": T[10]},
        "loss_value": number, "logits": T[2,10],
        "grads": the keys of params plus "x" -> T, shaped alike,
        "margins": {"relu_preactivation": number, "max_pool_gap": number
                    (max-pool configs only)} } ... ]}   (3 cases, order above)
sgd_trajectory.json:
    {"comment": str, "steps": 10, "resume_steps": 5, "x": T[8,64],
     "labels": T[8] integers, "initial": {"w1", "b1", "w2", "b2"} -> T
     (the same values as mlp_grads.json's x, labels and params),
     "margins": {"relu_preactivation": number},
     "runs": [ {"name": "sgd"|"momentum"|"nesterov"|"adam"|"adamw"|"adam_clip",
                hyperparameters: "lr"; "momentum", "nesterov" (bool) for
                momentum/nesterov; "beta1", "beta2", "epsilon" for adam*;
                "weight_decay" for adamw; "clip_global_norm" for adam_clip,
                "losses": [10 numbers], "final_loss": number,
                "final": {"w1", "b1", "w2", "b2"} -> T,
                "grad_norms": [10 numbers] (adam_clip only: the global norm
                              of the unclipped gradient at each step),
                "clipped_steps": [step numbers 1..10 whose norm exceeded 1]
                                 (adam_clip only),
                "state": {"velocity": {"w1", ...} -> T} for momentum and
                         nesterov; {"t": 10, "m": {...}, "v": {...}} for
                         adam*; absent for sgd,
                "resume_losses": [5 numbers], "resume_final_loss": number
               } ... ]}   (6 runs, order above)
resume_losses[0] is the loss at the float32-rounded final weights, so it
matches final_loss to float32 precision, not necessarily bit for bit.
"""

import json
import math
import pathlib

import jax

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_platforms", "cpu")
jax.config.update("jax_default_matmul_precision", "highest")

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

import kernels  # noqa: E402  (conv2d_ref, pool_ref, output_and_padding)

OUT = pathlib.Path(__file__).resolve().parent / "fixtures" / "training"
SEED = 20260301
F32 = np.float32
MARGIN = 1e-4


def f32(v):
    """A decimal constant as the float32 nearest it, widened to float64."""
    return float(F32(v))


# ---------------------------------------------------------------- encoding


class Raw:
    """A float32 value to be written as a JSON number."""

    def __init__(self, v):
        self.v = F32(v)


def number(x):
    x = F32(x)
    if not np.isfinite(x):
        raise ValueError(f"non-finite value {x}")
    if x == 0:
        return "0"
    short = str(x)
    d = float(short)
    robust = all(
        F32(n) == x for n in (d, np.nextafter(d, math.inf), np.nextafter(np.nextafter(d, math.inf), math.inf),
                              np.nextafter(d, -math.inf), np.nextafter(np.nextafter(d, -math.inf), -math.inf))
    )
    text = short if robust else repr(float(x))
    assert F32(float(text)) == x and F32(text) == x
    return text


def tensor(a, dtype=F32):
    """A float tensor: the values rounded once to float32."""
    a = np.asarray(a)
    if dtype is int:
        assert np.issubdtype(a.dtype, np.integer)
        return {"shape": list(a.shape), "data": [int(v) for v in a.ravel()]}
    return {"shape": list(a.shape), "data": [Raw(v) for v in np.asarray(a, np.float64).astype(F32).ravel()]}


def tensors(d):
    return {k: tensor(v) for k, v in d.items()}


def dump(obj, indent=0):
    """JSON with one line per tensor, so diffs stay readable."""
    pad = " " * indent
    if isinstance(obj, Raw):
        return number(obj.v)
    if isinstance(obj, bool):
        return "true" if obj else "false"
    if isinstance(obj, int):
        return str(obj)
    if isinstance(obj, float):
        return number(obj)
    if isinstance(obj, str):
        return json.dumps(obj)
    if isinstance(obj, dict):
        if set(obj) == {"shape", "data"} or all(not isinstance(v, (dict, list)) for v in obj.values()):
            return "{" + ",".join(f'"{k}":{dump(v)}' for k, v in obj.items()) + "}"
        inner = ",\n".join(f'{pad} "{k}": {dump(v, indent + 1)}' for k, v in obj.items())
        return "{\n" + inner + "\n" + pad + "}"
    if isinstance(obj, list):
        if all(not isinstance(v, (dict, list)) for v in obj):
            return "[" + ",".join(dump(v) for v in obj) + "]"
        inner = ",\n".join(f"{pad} {dump(v, indent + 1)}" for v in obj)
        return "[\n" + inner + "\n" + pad + "]"
    raise TypeError(type(obj))


def write(name, obj):
    OUT.mkdir(parents=True, exist_ok=True)
    text = dump(obj) + "\n"
    (OUT / name).write_text(text)
    print(f"{name}: {len(text)} bytes")


def f64(a):
    return np.asarray(a, dtype=np.float64)


WORST = {}  # tolerance -> largest error seen under it, reported at the end


def assert_close(name, got, want, tol):
    """|got - want| <= tol * (1 + |want|), elementwise."""
    got, want = f64(got), f64(want)
    assert got.shape == want.shape, (name, got.shape, want.shape)
    err = float(np.max(np.abs(got - want) / (1 + np.abs(want)), initial=0.0))
    assert err <= tol, f"{name}: {err:.3g} > {tol}"
    WORST[tol] = max(WORST.get(tol, 0.0), err)
    return err


# ---------------------------------------------------------------- data


def normal(rng, shape, std):
    return (rng.standard_normal(shape) * std).astype(F32)


def soft_labels(rng, n, c):
    """Rows of k/16 with whole k >= 0 summing to 16: exact probabilities."""
    counts = np.zeros((n, c), np.int64)
    for row in range(n):
        np.add.at(counts[row], rng.integers(0, c, 16), 1)
    return (counts / 16).astype(F32)


def mlp_data():
    rng = np.random.default_rng(SEED)
    x = normal(rng, (8, 64), 1.0)
    labels = rng.integers(0, 10, 8)
    params = {
        "w1": normal(rng, (64, 32), 1 / 8),
        "b1": normal(rng, (32,), 0.1),
        "w2": normal(rng, (32, 10), 1 / math.sqrt(32)),
        "b2": normal(rng, (10,), 0.1),
    }
    soft = soft_labels(rng, 8, 10)
    return x, labels, params, soft


# ---------------------------------------------------------------- MLP in JAX


def jax_logits(p, x, hidden):
    a = x @ p["w1"] + p["b1"]
    h = jax.nn.relu(a) if hidden == "relu" else jnp.tanh(a)
    return h @ p["w2"] + p["b2"]


def jax_loss(p, x, hidden, loss, target):
    z = jax_logits(p, x, hidden)
    if loss == "softmax_cross_entropy_indices":
        return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(z, target))
    if loss == "softmax_cross_entropy":
        return jnp.mean(optax.softmax_cross_entropy(z, target))
    assert loss == "mse"
    return jnp.mean(optax.squared_error(z, target))


MLP_GRAD = jax.jit(jax.value_and_grad(jax_loss, argnums=(0, 1)), static_argnums=(2, 3))
MLP_LOSS = jax.jit(jax_loss, static_argnums=(2, 3))


# ---------------------------------------------------------------- MLP in numpy


def log_softmax(z):
    m = z.max(axis=1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))


def np_mlp(p, x, hidden, loss, target, dtype=np.float64):
    """Loss, logits, gradients (w1, b1, w2, b2, x) and the hidden
    pre-activations, by hand-written backprop, in float64 (or in float32, to
    see how far a float32 implementation strays)."""
    p = {k: np.asarray(v, dtype) for k, v in p.items()}
    x = np.asarray(x, dtype)
    n, c = x.shape[0], p["b2"].shape[0]
    a = x @ p["w1"] + p["b1"]
    h = np.maximum(a, 0) if hidden == "relu" else np.tanh(a)
    z = h @ p["w2"] + p["b2"]
    if loss == "softmax_cross_entropy_indices":
        y = np.eye(c, dtype=dtype)[target]
    else:
        y = np.asarray(target, dtype)
    if loss == "mse":
        value = np.mean((z - y) ** 2)
        dz = 2 * (z - y) / (n * c)
    else:
        lsm = log_softmax(z)
        value = -np.sum(y * lsm) / n
        dz = (np.exp(lsm) * y.sum(axis=1, keepdims=True) - y) / n
    dh = dz @ p["w2"].T
    da = dh * (a > 0) if hidden == "relu" else dh * (1 - h**2)
    grads = {"w1": x.T @ da, "b1": da.sum(0), "w2": h.T @ dz, "b2": dz.sum(0), "x": da @ p["w1"].T}
    return value, z, grads, a


def float32_gap(name, got, want, tol):
    """How far a float32 computation lands from the float64 reference,
    relative to the largest magnitude of the reference tensor."""
    got, want = f64(got), f64(want)
    gap = float(np.max(np.abs(got - want)) / max(np.max(np.abs(want)), 1e-30))
    assert gap <= tol, f"float32 {name}: {gap:.3g} > {tol}"
    return gap


def relu_margin(a):
    return float(np.min(np.abs(a)))


# ---------------------------------------------------------------- 1. MLP gradients


MLP_CASES = [
    ("relu_ce_indices", "relu", "softmax_cross_entropy_indices", "labels"),
    ("relu_ce_onehot", "relu", "softmax_cross_entropy", "onehot"),
    ("relu_ce_soft", "relu", "softmax_cross_entropy", "soft"),
    ("tanh_mse_onehot", "tanh", "mse", "onehot"),
]


def mlp_grads():
    x, labels, params, soft = mlp_data()
    onehot = np.eye(10, dtype=F32)[labels]
    targets = {"labels": labels, "onehot": onehot, "soft": soft}
    cases = []
    worst = {"relu_preactivation": math.inf}
    for name, hidden, loss, target_name in MLP_CASES:
        target = targets[target_name]
        jp = {k: jnp.asarray(f64(v)) for k, v in params.items()}
        jt = jnp.asarray(target if target.dtype != F32 else f64(target))
        value, (gp, gx) = MLP_GRAD(jp, jnp.asarray(f64(x)), hidden, loss, jt)
        logits = jax_logits(jp, jnp.asarray(f64(x)), hidden)
        got = {**{k: np.asarray(gp[k]) for k in params}, "x": np.asarray(gx)}
        # The independent check: numpy backprop, to 1e-12.
        n_value, n_logits, n_grads, a = np_mlp(params, x, hidden, loss, target)
        assert_close(f"{name} loss", value, n_value, 1e-12)
        assert_close(f"{name} logits", logits, n_logits, 1e-12)
        for k in n_grads:
            assert_close(f"{name} d/d{k}", got[k], n_grads[k], 1e-12)
        # A float32 run of the same backprop stays close: nothing here is
        # on a knife's edge.
        s_value, _, s_grads, _ = np_mlp(params, x, hidden, loss, target, np.float32)
        gaps = [float32_gap(f"{name} loss", s_value, n_value, 1e-5)]
        gaps += [float32_gap(f"{name} d/d{k}", s_grads[k], n_grads[k], 1e-5) for k in n_grads]
        print(f"  {name}: float32 numpy within {max(gaps):.2g} (relative to each tensor's largest value)")
        if hidden == "relu":
            worst["relu_preactivation"] = min(worst["relu_preactivation"], relu_margin(a))
        cases.append({
            "name": name,
            "hidden": hidden,
            "loss": loss,
            "targets": tensor(target, int) if target_name == "labels" else tensor(target),
            "loss_value": Raw(value),
            "logits": tensor(logits),
            "grads": tensors(got),
        })
    assert worst["relu_preactivation"] >= MARGIN, worst
    return {
        "comment": "MLP 64-32-10, see tests/reference/training.py for the model, losses and layout",
        "x": tensor(x),
        "labels": tensor(labels, int),
        "params": tensors(params),
        "margins": worst,
        "cases": cases,
    }


# ---------------------------------------------------------------- 2. CNN gradients


CNN_CONFIGS = [
    # name, stride, padding, pool, layer_norm
    ("conv_same_maxpool", 1, "same", "max", False),
    ("conv_valid_s2_avgpool", 2, "valid", "avg", False),
    ("conv_same_layernorm_maxpool", 1, "same", "max", True),
]
LN_EPS = f32(1e-3)


def jax_cnn(p, x, labels, stride, padding, pool, layer_norm):
    y = jax.lax.conv_general_dilated(x, p["k"], (stride, stride), padding.upper(),
                                     dimension_numbers=("NHWC", "HWIO", "NHWC")) + p["c"]
    if layer_norm:
        mu = jnp.mean(y, axis=-1, keepdims=True)
        var = jnp.mean((y - mu) ** 2, axis=-1, keepdims=True)
        y = (y - mu) / jnp.sqrt(var + LN_EPS) * p["gamma"] + p["beta"]
    pre = y
    y = jax.nn.relu(y)
    if pool == "max":
        y = jax.lax.reduce_window(y, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
    else:
        y = jax.lax.reduce_window(y, 0.0, jax.lax.add, (1, 2, 2, 1), (1, 2, 2, 1), "VALID") / 4
    logits = y.reshape(y.shape[0], -1) @ p["w"] + p["b"]
    loss = jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels))
    return loss, (logits, pre)


CNN_GRAD = jax.jit(jax.value_and_grad(jax_cnn, argnums=(0, 1), has_aux=True), static_argnums=(3, 4, 5, 6))


def np_conv2d(x, k, stride, padding):
    """TensorFlow conv2d, dilation 1, vectorised over the output."""
    n, h, w, _ = x.shape
    kh, kw, _, co = k.shape
    oh, top = kernels.output_and_padding(h, kh, stride, 1, padding)
    ow, left = kernels.output_and_padding(w, kw, stride, 1, padding)
    ph, pw = (oh - 1) * stride + kh, (ow - 1) * stride + kw
    padded = np.zeros((n, max(ph, top + h), max(pw, left + w), x.shape[3]))
    padded[:, top:top + h, left:left + w, :] = x
    out = np.zeros((n, oh, ow, co))
    for i in range(kh):
        for j in range(kw):
            out += padded[:, i:i + (oh - 1) * stride + 1:stride, j:j + (ow - 1) * stride + 1:stride, :] @ k[i, j]
    return out


def np_pool(y, pool):
    n, h, w, c = y.shape
    blocks = y[:, :h // 2 * 2, :w // 2 * 2, :].reshape(n, h // 2, 2, w // 2, 2, c)
    return blocks.max(axis=(2, 4)) if pool == "max" else blocks.mean(axis=(2, 4))


def np_cnn(p, x, labels, stride, padding, pool, layer_norm):
    p = {k: f64(v) for k, v in p.items()}
    y = np_conv2d(f64(x), p["k"], stride, padding) + p["c"]
    if layer_norm:
        mu = y.mean(axis=-1, keepdims=True)
        var = ((y - mu) ** 2).mean(axis=-1, keepdims=True)
        y = (y - mu) / np.sqrt(var + LN_EPS) * p["gamma"] + p["beta"]
    pre = y
    pooled = np_pool(np.maximum(y, 0), pool)
    logits = pooled.reshape(len(pooled), -1) @ p["w"] + p["b"]
    loss = -np.mean(log_softmax(logits)[np.arange(len(labels)), labels])
    return loss, logits, pre


def pool_gap(post, pool):
    """Smallest gap between the two largest values of a max-pool window whose
    largest value is positive."""
    if pool != "max":
        return math.inf
    n, h, w, c = post.shape
    blocks = post[:, :h // 2 * 2, :w // 2 * 2, :].reshape(n, h // 2, 2, w // 2, 2, c)
    blocks = np.moveaxis(blocks, 4, 3).reshape(n, h // 2, w // 2, 4, c)
    top2 = np.sort(blocks, axis=3)[:, :, :, 2:, :]
    live = top2[:, :, :, 1, :] > 0
    return float(np.min((top2[:, :, :, 1, :] - top2[:, :, :, 0, :])[live], initial=math.inf))


def cnn_grads():
    rng = np.random.default_rng(SEED + 1)
    cases = []
    for name, stride, padding, pool, layer_norm in CNN_CONFIGS:
        x = normal(rng, (2, 8, 8, 1), 1.0)
        labels = rng.integers(0, 10, 2)
        p = {"k": normal(rng, (3, 3, 1, 4), 1 / 3), "c": normal(rng, (4,), 0.1)}
        if layer_norm:
            p["gamma"] = (1 + rng.standard_normal(4) * 0.1).astype(F32)
            p["beta"] = normal(rng, (4,), 0.1)
        conv_out, _ = kernels.output_and_padding(8, 3, stride, 1, padding)
        features = (conv_out // 2) ** 2 * 4
        p["w"] = normal(rng, (features, 10), 1 / math.sqrt(features))
        p["b"] = normal(rng, (10,), 0.1)
        config = (stride, padding, pool, layer_norm)

        jp = {k: jnp.asarray(f64(v)) for k, v in p.items()}
        (loss, (logits, pre)), (gp, gx) = CNN_GRAD(jp, jnp.asarray(f64(x)), jnp.asarray(labels), *config)
        grads = {**{k: np.asarray(gp[k]) for k in p}, "x": np.asarray(gx)}

        # Forward: JAX against numpy, and numpy's conv and pool against the
        # loop references of kernels.py.
        n_loss, n_logits, n_pre = np_cnn(p, x, labels, *config)
        assert_close(f"{name} loss", loss, n_loss, 1e-12)
        assert_close(f"{name} logits", logits, n_logits, 1e-12)
        assert_close(f"{name} pre", pre, n_pre, 1e-12)
        conv = np_conv2d(f64(x), f64(p["k"]), stride, padding)
        assert_close(f"{name} conv", conv, kernels.conv2d_ref(x, p["k"], (stride, stride), padding, (1, 1)), 1e-13)
        post = np.maximum(n_pre, 0)
        reducer = np.max if pool == "max" else np.mean
        assert_close(f"{name} pool", np_pool(post, pool), kernels.pool_ref(post, (2, 2), (2, 2), "valid", reducer),
                     1e-13)

        # Gradients: every element against a central difference of np_cnn.
        def at(key, index, delta):
            q = {k: f64(v).copy() for k, v in p.items()}
            xx = f64(x).copy()
            (xx if key == "x" else q[key])[index] += delta
            return np_cnn(q, xx, labels, *config)[0]

        eps = 1e-6
        for key, g in grads.items():
            fd = np.zeros_like(g)
            for index in np.ndindex(g.shape):
                fd[index] = (at(key, index, eps) - at(key, index, -eps)) / (2 * eps)
            assert_close(f"{name} d/d{key} vs finite differences", g, fd, 1e-7)

        # The same network run by JAX in float32 stays close.
        (s_loss, _), (s_gp, s_gx) = CNN_GRAD({k: jnp.asarray(v) for k, v in p.items()}, jnp.asarray(x),
                                             jnp.asarray(labels), *config)
        gaps = [float32_gap(f"{name} loss", s_loss, loss, 1e-5), float32_gap(f"{name} d/dx", s_gx, gx, 1e-5)]
        gaps += [float32_gap(f"{name} d/d{k}", s_gp[k], gp[k], 1e-5) for k in gp]
        print(f"  {name}: float32 JAX within {max(gaps):.2g}")

        margins = {"relu_preactivation": relu_margin(n_pre), "max_pool_gap": pool_gap(post, pool)}
        assert min(margins.values()) >= MARGIN, (name, margins)
        if margins["max_pool_gap"] == math.inf:
            del margins["max_pool_gap"]
        case = {
            "name": name,
            "strides": [stride, stride],
            "padding": padding,
            "dilations": [1, 1],
            "layer_norm": {"epsilon": LN_EPS, "axis": -1} if layer_norm else None,
            "pool": pool,
            "pool_window": [2, 2],
            "pool_strides": [2, 2],
            "pool_padding": "valid",
            "x": tensor(x),
            "labels": tensor(labels, int),
            "params": tensors(p),
            "loss_value": Raw(loss),
            "logits": tensor(logits),
            "grads": tensors(grads),
            "margins": margins,
        }
        if not layer_norm:
            del case["layer_norm"]
        cases.append(case)
    return {"comment": "small CNN, see tests/reference/training.py for the model and layout", "cases": cases}


# ---------------------------------------------------------------- 3. optimizers

LR_SGD, MU = f32(0.1), f32(0.9)
LR_ADAM, B1, B2, ADAM_EPS, WD, MAX_NORM = f32(1e-2), f32(0.9), f32(0.999), f32(1e-8), f32(0.01), f32(1.0)
STEPS, RESUME = 10, 5
KEYS = ("w1", "b1", "w2", "b2")

OPTIMIZERS = {
    "sgd": ({"lr": LR_SGD}, lambda: optax.sgd(LR_SGD)),
    "momentum": ({"lr": LR_SGD, "momentum": MU, "nesterov": False}, lambda: optax.sgd(LR_SGD, momentum=MU)),
    "nesterov": ({"lr": LR_SGD, "momentum": MU, "nesterov": True},
                 lambda: optax.sgd(LR_SGD, momentum=MU, nesterov=True)),
    "adam": ({"lr": LR_ADAM, "beta1": B1, "beta2": B2, "epsilon": ADAM_EPS},
             lambda: optax.adam(LR_ADAM, b1=B1, b2=B2, eps=ADAM_EPS)),
    "adamw": ({"lr": LR_ADAM, "beta1": B1, "beta2": B2, "epsilon": ADAM_EPS, "weight_decay": WD},
              lambda: optax.adamw(LR_ADAM, b1=B1, b2=B2, eps=ADAM_EPS, weight_decay=WD)),
    "adam_clip": ({"lr": LR_ADAM, "beta1": B1, "beta2": B2, "epsilon": ADAM_EPS, "clip_global_norm": MAX_NORM},
                  lambda: optax.chain(optax.clip_by_global_norm(MAX_NORM),
                                      optax.adam(LR_ADAM, b1=B1, b2=B2, eps=ADAM_EPS))),
}


class NumpyOptimizer:
    """The update rules of the docstring, written out in numpy."""

    def __init__(self, kind, state=None, dtype=np.float64):
        self.kind = kind
        f64 = lambda a: np.asarray(a, dtype)  # noqa: E731
        zeros = lambda: {k: None for k in KEYS}  # noqa: E731
        self.t = 0
        self.m, self.v = zeros(), zeros()
        if state is not None:
            self.t = state.get("t", 0)
            self.m = {k: f64(a) for k, a in state.get("m", state.get("velocity", {})).items()} or zeros()
            self.v = {k: f64(a) for k, a in state.get("v", {}).items()} or zeros()

    def step(self, w, g):
        self.t += 1
        norm = math.sqrt(sum(float(np.sum(g[k] ** 2)) for k in KEYS))
        if self.kind == "adam_clip":
            g = {k: g[k] * min(1.0, MAX_NORM / norm) for k in KEYS}
        new = {}
        for k in KEYS:
            if self.kind == "sgd":
                new[k] = w[k] - LR_SGD * g[k]
            elif self.kind in ("momentum", "nesterov"):
                self.m[k] = g[k] if self.m[k] is None else MU * self.m[k] + g[k]
                step = g[k] + MU * self.m[k] if self.kind == "nesterov" else self.m[k]
                new[k] = w[k] - LR_SGD * step
            else:
                m = 0.0 if self.m[k] is None else self.m[k]
                v = 0.0 if self.v[k] is None else self.v[k]
                self.m[k] = B1 * m + (1 - B1) * g[k]
                self.v[k] = B2 * v + (1 - B2) * g[k] ** 2
                mh = self.m[k] / (1 - B1**self.t)
                vh = self.v[k] / (1 - B2**self.t)
                u = mh / (np.sqrt(vh) + ADAM_EPS)
                if self.kind == "adamw":
                    u = u + WD * w[k]
                new[k] = w[k] - LR_ADAM * u
        return new, norm

    def state(self):
        if self.kind == "sgd":
            return {}
        if self.kind in ("momentum", "nesterov"):
            return {"velocity": dict(self.m)}
        return {"t": self.t, "m": dict(self.m), "v": dict(self.v)}


def numpy_run(kind, w, x, labels, steps, state=None, dtype=np.float64):
    opt = NumpyOptimizer(kind, state, dtype)
    w = {k: np.asarray(v, dtype) for k, v in w.items()}
    losses, norms, relu = [], [], math.inf
    for _ in range(steps):
        value, _, g, a = np_mlp(w, x, "relu", "softmax_cross_entropy_indices", labels, dtype)
        losses.append(value)
        relu = min(relu, relu_margin(a))
        w, norm = opt.step(w, g)
        norms.append(norm)
    value, _, _, a = np_mlp(w, x, "relu", "softmax_cross_entropy_indices", labels, dtype)
    relu = min(relu, relu_margin(a))
    return {"losses": losses, "final_loss": value, "final": w, "state": opt.state(), "norms": norms,
            "relu": relu}


def float32_check(kind, initial, x, labels, want):
    """The same run in float32 numpy stays close to the float64 reference."""
    got = numpy_run(kind, initial, x, labels, STEPS, dtype=np.float32)
    losses = max(abs(a - b) / abs(b) for a, b in zip(got["losses"] + [got["final_loss"]],
                                                     want["losses"] + [want["final_loss"]]))
    assert losses <= 1e-4, (kind, losses)
    weights = max(float32_gap(f"{kind} final {k}", got["final"][k], want["final"][k], 1e-5) for k in KEYS)
    for part, value in got["state"].items():
        if part != "t":
            weights = max(weights, *(float32_gap(f"{kind} {part} {k}", value[k], want["state"][part][k], 1e-5)
                                     for k in KEYS))
    print(f"  {kind}: float32 numpy run: losses within {losses:.2g} relative, "
          f"final weights and state within {weights:.2g}")


def optax_state(kind, opt, params, state):
    """An optax state holding the stored float32 state."""
    s = opt.init(params)
    as_j = lambda d: {k: jnp.asarray(f64(v)) for k, v in d.items()}  # noqa: E731
    if kind in ("momentum", "nesterov"):
        return optax.tree_utils.tree_set(s, trace=as_j(state["velocity"]))
    if kind.startswith("adam"):
        return optax.tree_utils.tree_set(s, count=jnp.asarray(state["t"], jnp.int32), mu=as_j(state["m"]),
                                         nu=as_j(state["v"]))
    return s


def optax_read_state(kind, s):
    get = lambda name: {k: np.asarray(optax.tree_utils.tree_get(s, name)[k]) for k in KEYS}  # noqa: E731
    if kind in ("momentum", "nesterov"):
        return {"velocity": get("trace")}
    if kind.startswith("adam"):
        return {"t": int(optax.tree_utils.tree_get(s, "count")), "m": get("mu"), "v": get("nu")}
    return {}


def optax_run(kind, w, x, labels, steps, state=None):
    opt = OPTIMIZERS[kind][1]()
    params = {k: jnp.asarray(f64(v)) for k, v in w.items()}
    s = opt.init(params) if state is None else optax_state(kind, opt, params, state)
    jx, jl = jnp.asarray(f64(x)), jnp.asarray(labels)

    @jax.jit
    def step(params, s):
        value, (g, _) = MLP_GRAD(params, jx, "relu", "softmax_cross_entropy_indices", jl)
        updates, s = opt.update(g, s, params)
        return optax.apply_updates(params, updates), s, value, optax.global_norm(g)

    losses, norms = [], []
    for _ in range(steps):
        params, s, value, norm = step(params, s)
        losses.append(float(value))
        norms.append(float(norm))
    final_loss = float(MLP_LOSS(params, jx, "relu", "softmax_cross_entropy_indices", jl))
    return {"losses": losses, "final_loss": final_loss, "final": {k: np.asarray(params[k]) for k in KEYS},
            "state": optax_read_state(kind, s), "norms": norms}


def rounded(tree):
    """Float32-rounded copy of weights or state, as the fixture stores it."""
    if isinstance(tree, dict):
        return {k: rounded(v) for k, v in tree.items()}
    if isinstance(tree, int):
        return tree
    return f64(np.asarray(tree, np.float64).astype(F32))


def compare_runs(name, got, want, tol):
    assert_close(f"{name} losses", got["losses"], want["losses"], tol)
    assert_close(f"{name} final loss", got["final_loss"], want["final_loss"], tol)
    assert_close(f"{name} norms", got["norms"], want["norms"], tol)
    for k in KEYS:
        assert_close(f"{name} final {k}", got["final"][k], want["final"][k], tol)
    for part, value in got["state"].items():
        if part == "t":
            assert value == want["state"]["t"], name
        else:
            for k in KEYS:
                assert_close(f"{name} {part} {k}", value[k], want["state"][part][k], tol)


def sgd_trajectory():
    x, labels, initial, _ = mlp_data()
    runs = []
    margins = {"relu_preactivation": math.inf}
    for kind, (hyper, _) in OPTIMIZERS.items():
        got = optax_run(kind, initial, x, labels, STEPS)
        want = numpy_run(kind, initial, x, labels, STEPS)
        compare_runs(kind, got, want, 1e-12)
        # Resume from exactly the float32 values stored below.
        final, state = rounded(got["final"]), rounded(got["state"])
        resumed = optax_run(kind, final, x, labels, RESUME, state)
        n_resumed = numpy_run(kind, final, x, labels, RESUME, state)
        compare_runs(f"{kind} resumed", resumed, n_resumed, 1e-12)
        assert resumed["state"].get("t", RESUME + STEPS) == STEPS + RESUME
        margins["relu_preactivation"] = min(margins["relu_preactivation"], want["relu"], n_resumed["relu"])
        float32_check(kind, initial, x, labels, want)
        run = {"name": kind, **{k: Raw(v) if isinstance(v, float) else v for k, v in hyper.items()},
               "losses": [Raw(v) for v in got["losses"]], "final_loss": Raw(got["final_loss"]),
               "final": tensors(got["final"])}
        if kind == "adam_clip":
            run["grad_norms"] = [Raw(v) for v in got["norms"]]
            run["clipped_steps"] = [i + 1 for i, v in enumerate(got["norms"]) if v > MAX_NORM]
        if got["state"]:
            run["state"] = {part: (value if part == "t" else tensors(value)) for part, value in got["state"].items()}
        run["resume_losses"] = [Raw(v) for v in resumed["losses"]]
        run["resume_final_loss"] = Raw(resumed["final_loss"])
        runs.append(run)
        print(f"  {kind}: loss {got['losses'][0]:.6f} -> {got['final_loss']:.6f}, "
              f"resumed -> {resumed['final_loss']:.6f}")
    assert margins["relu_preactivation"] >= MARGIN, margins
    clip = next(r for r in runs if r["name"] == "adam_clip")
    assert 0 < len(clip["clipped_steps"]) < STEPS, clip["clipped_steps"]
    return {
        "comment": "full-batch training of the relu_ce_indices MLP of mlp_grads.json, "
                   "see tests/reference/training.py for the update rules and layout",
        "steps": STEPS,
        "resume_steps": RESUME,
        "x": tensor(x),
        "labels": tensor(labels, int),
        "initial": tensors(initial),
        "margins": margins,
        "runs": runs,
    }


def main():
    write("mlp_grads.json", mlp_grads())
    write("cnn_grads.json", cnn_grads())
    write("sgd_trajectory.json", sgd_trajectory())
    for tol, err in sorted(WORST.items()):
        print(f"checks at tolerance {tol:g}: worst {err:.3g}")


if __name__ == "__main__":
    main()
