"""Train a tiny NumPy softmax classifier, save its weights with np.savez, reload them and check them.

A NumPy model is its weights plus the forward function, so "exporting" means writing the
weight arrays (and the metadata needed to use them) to a .npz file; the serving side loads
the file and runs the same forward pass. The reloaded outputs must match the trained model's.
Run it with:  python train_numpy.py
"""
import sys
import tempfile
from pathlib import Path

import numpy as np

# NumPy only runs on the CPU; the line is kept so every starter looks alike.
DEVICE = "cpu"
STEPS = 300
LEARNING_RATE = 0.5
HIDDEN = 32


def make_blobs(n, rng):
    """Three Gaussian blobs in 4 dimensions, one per class."""
    centers = np.array([[2.0, 0, 0, 1], [0, 2.0, 1, 0], [-1, -1, -2.0, 0]])
    y = rng.integers(0, 3, n)
    return centers[y] + rng.normal(size=(n, 4)), y


def forward(params, x):
    h = np.maximum(0, x @ params["w1"] + params["b1"])  # ReLU
    logits = h @ params["w2"] + params["b2"]
    e = np.exp(logits - logits.max(axis=1, keepdims=True))  # numerically stable softmax
    return h, e / e.sum(axis=1, keepdims=True)


def cross_entropy(probs, y):
    return float(-np.mean(np.log(probs[np.arange(len(y)), y] + 1e-12)))


def gradients(params, x, y, h, probs):
    d_logits = probs.copy()
    d_logits[np.arange(len(y)), y] -= 1  # softmax + cross-entropy: probs - one_hot(y)
    d_logits /= len(y)
    d_h = (d_logits @ params["w2"].T) * (h > 0)  # chain rule through ReLU
    return {"w2": h.T @ d_logits, "b2": d_logits.sum(0), "w1": x.T @ d_h, "b1": d_h.sum(0)}


def main():
    if DEVICE != "cpu":
        sys.exit(f"error: NumPy has no device {DEVICE!r}; it only runs on the CPU")
    rng = np.random.default_rng(0)
    x, y = make_blobs(600, rng)
    params = {"w1": rng.normal(0, 0.5, (4, HIDDEN)), "b1": np.zeros(HIDDEN),
              "w2": rng.normal(0, 1 / np.sqrt(HIDDEN), (HIDDEN, 3)), "b2": np.zeros(3)}

    first_loss = cross_entropy(forward(params, x)[1], y)
    for step in range(1, STEPS + 1):
        h, probs = forward(params, x)
        for name, grad in gradients(params, x, y, h, probs).items():
            params[name] -= LEARNING_RATE * grad
        if step % 100 == 0:
            print(f"step {step:4d}  loss {cross_entropy(probs, y):.4f}")

    new_x, new_y = make_blobs(200, rng)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "classifier.npz"
        # Store a format version next to the weights, so the serving side can refuse a mismatch.
        np.savez(path, format_version=np.array(1), **params)
        print(f"exported {path.name}: {path.stat().st_size} bytes")
        with np.load(path, allow_pickle=False) as archive:  # never unpickle files from elsewhere
            if int(archive["format_version"]) != 1:
                sys.exit("error: unknown model format version")
            reloaded = {name: archive[name] for name in params}

    served = forward(reloaded, new_x)[1]
    max_diff = float(np.max(np.abs(served - forward(params, new_x)[1])))
    if max_diff > 1e-12:
        sys.exit(f"error: the reloaded model's outputs differ by {max_diff}")
    final_loss = cross_entropy(served, new_y)
    print(f"reloaded weights give the trained model's outputs (max difference {max_diff:.2e})")
    print(f"accuracy of the reloaded model on new data: {np.mean(served.argmax(1) == new_y):.1%}")
    print(f"first_loss={first_loss:.6f}")
    print(f"final_loss={final_loss:.6f}")


if __name__ == "__main__":
    main()
