#!/usr/bin/env python3
"""References for the training forms of `dropout` and `batch_norm`: the
dropout masks drawn from the documented counter-based hash, and full-batch
training steps of a small net with batch normalisation (with and without
dropout), computed with JAX (float64, CPU) and checked with numpy.

Writes two JSON files to fixtures/training/ beside this script:
    dropout_masks.json      masks of the hash of docs/LANGUAGE.md
    batch_norm_steps.json   five SGD steps of a net with batch_norm, two runs
The fixtures are committed, so the Rust tests need no Python. To regenerate
(`pip install jax optax`; made with jax 0.10.2, optax 0.2.8, numpy 2.4.6):
    python3 tests/reference/training_forms.py
The output is deterministic: rerunning it must leave `git diff` empty.
Conventions (float32 inputs, float64 references rounded once to float32,
the number format, row-major tensors {"shape", "data"}) are training.py's,
whose writer this script uses.

THE DROPOUT MASK (dropout_masks.json), written here from the specification
in docs/LANGUAGE.md ("Training steps"), not from the Rust code:
    splitmix64(z) = mix(z + 0x9E3779B97F4A7C15 mod 2^64), mix being
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB;  z ^ (z >> 31)
    key = splitmix64(splitmix64(splitmix64(seed) ^ stream) ^ count)
    element i (row-major from 0) draws u = splitmix64(key + i*0x9E37..15) >> 40
    dropped iff u < rate * 2^24; kept elements scaled by float32(1/(1 - rate))
    stream = step index * 2^32 + the dropout's place among the step's
    count = steps taken before (low + high * 2^24 in two float32 words)
Each case: seed, stream, count, rate, n and "kept", a string of n
characters '1' (kept) or '0' (dropped). The script checks that over all
cases the dropped fraction is within 4 standard deviations of the rate.

THE NET (batch_norm_steps.json), x [8, 5], labels [8] in 0..3:
    h = x @ w1                                     [8, 6]
    mu = mean(h, axis 0), var = mean((h - mu)^2, axis 0)   (biased)
    hn = (h - mu) / sqrt(var + eps) * gamma + beta  (eps = float32(1e-3))
    a = relu(hn)
    [run "batch_norm_dropout" only] a = dropout(a, rate 0.25, seed 5): the
        mask of (seed 5, stream 0, count t-1) at step t, kept elements
        times float32(1/(1 - 0.25)) = 4/3 rounded to float32
    logits = a @ w2 + b2                            [8, 3]
    loss = mean over rows of softmax cross-entropy with the class labels
Each step t = 1..5, from the initial values below: the loss and gradients
at the current parameters (batch statistics, mask t), then SGD, lr 0.1, on
w1, gamma, beta, w2, b2, and the running statistics
    moving_mean = m * moving_mean + (1 - m) * mu
    moving_variance = m * moving_variance + (1 - m) * var   (biased var)
with momentum m = float32(0.9) (Keras's convention). After the five steps
the inference form (the running statistics, no dropout) is evaluated:
logits on x_eval [4, 5], and the loss on x with labels.
The numpy check: an independent forward pass, its loss at every step, and
every gradient element of step 1 against a central finite difference (step
1e-6) of it, to 1e-7. The margins: every relu pre-activation of every step
has |hn| >= 1e-4 (the minimum is stored). A float32 JAX run of the same
steps stays within 1e-5 of the references (relative to each tensor's
largest value), losses within 1e-5 relative; suggested Rust tolerances as
training.py's: 1e-4 relative + 1e-5 absolute.

JSON LAYOUT (T = tensor; scalars are bare numbers)
dropout_masks.json: {"comment": str, "cases": [ {"name": str, "seed": int,
    "stream": int, "count": int, "rate": number, "n": int, "kept": str} ...]}
batch_norm_steps.json: {"comment": str, "epsilon": number, "momentum":
    number, "lr": number, "steps": 5, "x": T[8,5], "labels": T[8] integers,
    "x_eval": T[4,5], "initial": {"w1", "gamma", "beta", "w2", "b2",
    "moving_mean", "moving_variance"} -> T, "runs": [ {"name":
    "batch_norm"|"batch_norm_dropout", "dropout": {"rate", "seed"} (second
    run only), "losses": [5 numbers], "final": as "initial", "eval_logits":
    T[4,3], "eval_loss": number, "margins": {"relu_preactivation": number}}
    ...]}
"""

import math

import jax

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_platforms", "cpu")
jax.config.update("jax_default_matmul_precision", "highest")

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

from training import F32, MARGIN, Raw, assert_close, f32, f64, normal, tensor, tensors, write  # noqa: E402

SEED = 20260415
MASK64 = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15


# ---------------------------------------------------------------- the hash


def splitmix64(z):
    z = (z + GAMMA) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def dropout_key(seed, stream, count):
    return splitmix64(splitmix64(splitmix64(seed & MASK64) ^ stream) ^ count)


def dropout_kept(seed, stream, count, rate, n):
    """The kept flags of n elements."""
    key = dropout_key(seed, stream, count)
    threshold = float(F32(rate)) * 2**24
    return np.array([(splitmix64((key + i * GAMMA) & MASK64) >> 40) >= threshold for i in range(n)])


def dropout_scale(rate):
    return float(F32(1 / (1 - float(F32(rate)))))


MASK_CASES = [
    # name, seed, stream, count, rate, n
    ("first_step", 17, 0, 0, 0.3, 1000),
    ("second_step", 17, 0, 1, 0.3, 1000),
    ("third_step", 17, 0, 2, 0.3, 1000),
    ("second_dropout_of_the_step", 17, 1, 0, 0.3, 1000),
    ("second_step_declared", 17, 1 << 32, 0, 0.3, 1000),
    ("after_the_low_word_carries", 17, 0, (1 << 24) + 5, 0.3, 1000),
    ("negative_seed", -3, 0, 0, 0.3, 1000),
    ("large", 99, 0, 7, 0.5, 20000),
]


def dropout_masks():
    cases = []
    dropped, total = 0, 0
    for name, seed, stream, count, rate, n in MASK_CASES:
        kept = dropout_kept(seed, stream, count, rate, n)
        dropped += int((~kept).sum())
        total += n
        # Each case alone: within 4 standard deviations of the rate.
        sd = math.sqrt(rate * (1 - rate) / n)
        assert abs((~kept).mean() - rate) <= 4 * sd, (name, (~kept).mean())
        cases.append({"name": name, "seed": seed, "stream": stream, "count": count,
                      "rate": f32(rate), "n": n, "kept": "".join("1" if k else "0" for k in kept)})
    print(f"  dropout masks: {dropped} of {total} dropped")
    return {"comment": "dropout masks of the hash in docs/LANGUAGE.md, see tests/reference/training_forms.py",
            "cases": cases}


# ---------------------------------------------------------------- the net

EPS = f32(1e-3)
MOMENTUM = f32(0.9)
LR = f32(0.1)
STEPS = 5
DROPOUT_RATE, DROPOUT_SEED = 0.25, 5
PARAMS = ["w1", "gamma", "beta", "w2", "b2"]


def net_data():
    rng = np.random.default_rng(SEED)
    x = normal(rng, (8, 5), 1.0)
    labels = rng.integers(0, 3, 8)
    x_eval = normal(rng, (4, 5), 1.0)
    initial = {
        "w1": normal(rng, (5, 6), 1 / math.sqrt(5)),
        "gamma": (1 + rng.standard_normal(6) * 0.1).astype(F32),
        "beta": normal(rng, (6,), 0.1),
        "w2": normal(rng, (6, 3), 1 / math.sqrt(6)),
        "b2": normal(rng, (3,), 0.1),
        "moving_mean": normal(rng, (6,), 0.1),
        "moving_variance": (1 + np.abs(rng.standard_normal(6) * 0.1)).astype(F32),
    }
    return x, labels, x_eval, initial


def jax_train_loss(p, x, labels, mask, dtype):
    """The training form: batch statistics, the dropout mask (or None)."""
    h = x @ p["w1"]
    mu = jnp.mean(h, axis=0)
    var = jnp.mean((h - mu) ** 2, axis=0)
    hn = (h - mu) / jnp.sqrt(var + jnp.asarray(EPS, dtype)) * p["gamma"] + p["beta"]
    a = jax.nn.relu(hn)
    if mask is not None:
        a = jnp.where(mask, a * jnp.asarray(dropout_scale(DROPOUT_RATE), dtype), 0.0)
    logits = a @ p["w2"] + p["b2"]
    loss = jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels))
    return loss, (mu, var, hn)


TRAIN_GRAD = jax.jit(jax.value_and_grad(jax_train_loss, has_aux=True), static_argnums=(4,))


def jax_inference(p, running, x):
    h = x @ p["w1"]
    hn = (h - running["moving_mean"]) / jnp.sqrt(running["moving_variance"] + EPS) * p["gamma"] + p["beta"]
    return jax.nn.relu(hn) @ p["w2"] + p["b2"]


def np_train_loss(p, x, labels, mask):
    p = {k: f64(v) for k, v in p.items()}
    h = f64(x) @ p["w1"]
    mu = h.mean(axis=0)
    var = ((h - mu) ** 2).mean(axis=0)
    a = np.maximum((h - mu) / np.sqrt(var + EPS) * p["gamma"] + p["beta"], 0)
    if mask is not None:
        a = np.where(mask, a * dropout_scale(DROPOUT_RATE), 0.0)
    z = a @ p["w2"] + p["b2"]
    m = z.max(axis=1, keepdims=True)
    lsm = z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))
    return -np.mean(lsm[np.arange(len(labels)), labels])


def finite_difference_check(p, x, labels, mask, grads):
    for k in PARAMS:
        fd = np.zeros(p[k].shape)
        for i in np.ndindex(p[k].shape):
            up, down = {q: f64(v).copy() for q, v in p.items()}, {q: f64(v).copy() for q, v in p.items()}
            up[k][i] += 1e-6
            down[k][i] -= 1e-6
            fd[i] = (np_train_loss(up, x, labels, mask) - np_train_loss(down, x, labels, mask)) / 2e-6
        assert_close(f"d/d{k} by finite differences", grads[k], fd, 1e-7)


def run(name, x, labels, x_eval, initial, dropout, dtype=np.float64):
    p = {k: jnp.asarray(np.asarray(initial[k], dtype)) for k in PARAMS}
    running = {k: np.asarray(initial[k], dtype) for k in ("moving_mean", "moving_variance")}
    xs, ys = jnp.asarray(np.asarray(x, dtype)), jnp.asarray(labels)
    losses, margin = [], math.inf
    for t in range(STEPS):
        mask = None
        if dropout:
            mask = dropout_kept(DROPOUT_SEED, 0, t, DROPOUT_RATE, 8 * 6).reshape(8, 6)
        (loss, (mu, var, hn)), grads = TRAIN_GRAD(p, xs, ys, None if mask is None else jnp.asarray(mask), dtype)
        if dtype == np.float64:
            assert_close(f"{name} step {t + 1} loss by numpy", loss, np_train_loss(p, x, labels, mask), 1e-12)
            if t == 0:
                finite_difference_check({k: np.asarray(v) for k, v in p.items()}, x, labels, mask,
                                        {k: np.asarray(v) for k, v in grads.items()})
        margin = min(margin, float(np.min(np.abs(np.asarray(hn)))))
        losses.append(float(loss))
        p = {k: p[k] - np.asarray(LR, dtype) * grads[k] for k in PARAMS}
        running["moving_mean"] = np.asarray(MOMENTUM, dtype) * running["moving_mean"] + \
            np.asarray(1 - MOMENTUM, dtype) * np.asarray(mu)
        running["moving_variance"] = np.asarray(MOMENTUM, dtype) * running["moving_variance"] + \
            np.asarray(1 - MOMENTUM, dtype) * np.asarray(var)
    final = {**{k: np.asarray(v) for k, v in p.items()}, **running}
    eval_logits = np.asarray(jax_inference(p, running, jnp.asarray(np.asarray(x_eval, dtype))))
    z = jax_inference(p, running, xs)
    eval_loss = float(jnp.mean(optax.softmax_cross_entropy_with_integer_labels(z, ys)))
    return {"losses": losses, "final": final, "eval_logits": eval_logits, "eval_loss": eval_loss,
            "margin": margin}


def float32_gap(name, got, want, tol):
    got, want = f64(got), f64(want)
    gap = float(np.max(np.abs(got - want)) / max(np.max(np.abs(want)), 1e-30))
    assert gap <= tol, f"float32 {name}: {gap:.3g} > {tol}"
    return gap


def batch_norm_steps():
    x, labels, x_eval, initial = net_data()
    runs = []
    for name, dropout in [("batch_norm", False), ("batch_norm_dropout", True)]:
        got = run(name, x, labels, x_eval, initial, dropout)
        assert got["margin"] >= MARGIN, (name, got["margin"])
        single = run(name, x, labels, x_eval, initial, dropout, np.float32)
        gaps = [float32_gap(f"{name} losses", single["losses"], got["losses"], 1e-5),
                float32_gap(f"{name} eval logits", single["eval_logits"], got["eval_logits"], 1e-5)]
        gaps += [float32_gap(f"{name} {k}", single["final"][k], got["final"][k], 1e-5) for k in got["final"]]
        print(f"  {name}: loss {got['losses'][0]:.6f} -> {got['losses'][-1]:.6f}, "
              f"float32 JAX within {max(gaps):.2g}, relu margin {got['margin']:.2g}")
        entry = {"name": name}
        if dropout:
            entry["dropout"] = {"rate": f32(DROPOUT_RATE), "seed": DROPOUT_SEED}
        entry.update({
            "losses": [Raw(v) for v in got["losses"]],
            "final": tensors(got["final"]),
            "eval_logits": tensor(got["eval_logits"]),
            "eval_loss": Raw(got["eval_loss"]),
            "margins": {"relu_preactivation": got["margin"]},
        })
        runs.append(entry)
    return {
        "comment": "SGD steps of a net with batch_norm in its training form, "
                   "see tests/reference/training_forms.py for the model and layout",
        "epsilon": EPS,
        "momentum": MOMENTUM,
        "lr": LR,
        "steps": STEPS,
        "x": tensor(x),
        "labels": tensor(labels, int),
        "x_eval": tensor(x_eval),
        "initial": tensors(initial),
        "runs": runs,
    }


def main():
    write("dropout_masks.json", dropout_masks())
    write("batch_norm_steps.json", batch_norm_steps())


if __name__ == "__main__":
    main()
