"""Trains scikit-learn's MLPClassifier on the digits data and exports it for
tests/sklearn_interop.rs and the embedded example.

Writes tests/reference/fixtures/sklearn/digits_mlp.safetensors (the weights
as float32: w1 [64, 32], b1 [32], w2 [32, 10], b2 [10]) and predictions.json
(scikit-learn's predicted classes for the 360 test rows, the last 360 rows
of tests/data/digits.csv, pixels scaled by 1/16).

Run from the repository root: python3 tests/reference/sklearn_digits.py
"""
import json
import pathlib

import numpy as np
from safetensors.numpy import save_file
from sklearn.neural_network import MLPClassifier

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "reference" / "fixtures" / "sklearn"


def main():
    data = np.loadtxt(ROOT / "tests" / "data" / "digits.csv", delimiter=",", skiprows=1)
    labels = data[:, 0].astype(int)
    pixels = (data[:, 1:] / 16.0).astype(np.float32)
    train_x, test_x = pixels[:1437], pixels[1437:]
    train_y = labels[:1437]
    model = MLPClassifier(hidden_layer_sizes=(32,), activation="relu", max_iter=600, random_state=0)
    model.fit(train_x, train_y)
    # Predict from float32 weights, as the Rust side computes, so the classes
    # compared are those of exactly the exported model.
    weights = {
        "w1": model.coefs_[0].astype(np.float32),
        "b1": model.intercepts_[0].astype(np.float32),
        "w2": model.coefs_[1].astype(np.float32),
        "b2": model.intercepts_[1].astype(np.float32),
    }
    model.coefs_ = [weights["w1"], weights["w2"]]
    model.intercepts_ = [weights["b1"], weights["b2"]]
    predicted = model.predict(test_x)
    # How close the nearest call was: the smallest gap between the two largest
    # logits over the test rows (float64 logits from the float32 weights).
    hidden = np.maximum(test_x.astype(np.float64) @ weights["w1"] + weights["b1"], 0.0)
    logits = hidden @ weights["w2"] + weights["b2"]
    top2 = np.sort(logits, axis=1)[:, -2:]
    OUT.mkdir(parents=True, exist_ok=True)
    save_file(weights, str(OUT / "digits_mlp.safetensors"))
    report = {
        "predicted": predicted.tolist(),
        "test_accuracy": float((predicted == labels[1437:]).mean()),
        "smallest_top2_logit_gap": float((top2[:, 1] - top2[:, 0]).min()),
        "sklearn_version": __import__("sklearn").__version__,
    }
    (OUT / "predictions.json").write_text(json.dumps(report, indent=1) + "\n")
    print({k: v for k, v in report.items() if k != "predicted"})


if __name__ == "__main__":
    main()
