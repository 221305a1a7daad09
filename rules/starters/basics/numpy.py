"""Train a two-layer neural network in plain NumPy, with hand-written gradients.

It learns XOR (do a point's two coordinates have the same sign?), which no
straight line can separate. Forward pass, backpropagation and mini-batch SGD
are all spelled out below.
Run it with:  python train_numpy.py
"""
import sys

import numpy as np

# NumPy only runs on the CPU; the line is kept so every starter looks alike.
DEVICE = "cpu"
STEPS = 1000
BATCH_SIZE = 64
LEARNING_RATE = 0.5
HIDDEN = 64


def make_xor(n, rng):
    """Class 1 where x and y have the same sign: no straight line separates it."""
    x = rng.uniform(-1, 1, (n, 2))
    y = (x[:, 0] * x[:, 1] > 0).astype(float)
    return x, y.reshape(-1, 1)


def forward(params, x):
    h = np.tanh(x @ params["w1"] + params["b1"])
    p = 1 / (1 + np.exp(-(h @ params["w2"] + params["b2"])))  # sigmoid: P(class 1)
    return h, p


def bce_loss(p, y):
    p = np.clip(p, 1e-7, 1 - 1e-7)  # avoid log(0)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def backward(params, x, y, h, p):
    n = len(x)
    dz2 = (p - y) / n  # sigmoid + cross-entropy: the gradient simplifies to p - y
    dz1 = (dz2 @ params["w2"].T) * (1 - h**2)  # chain rule through tanh
    return {"w2": h.T @ dz2, "b2": dz2.sum(axis=0), "w1": x.T @ dz1, "b1": dz1.sum(axis=0)}


def main():
    if DEVICE != "cpu":
        sys.exit(f"error: NumPy has no device {DEVICE!r}; it only runs on the CPU")
    rng = np.random.default_rng(0)
    x, y = make_xor(1000, rng)

    # Scaled random weights keep tanh away from saturation at the start.
    params = {
        "w1": rng.normal(0, 1 / np.sqrt(2), (2, HIDDEN)), "b1": np.zeros(HIDDEN),
        "w2": rng.normal(0, 1 / np.sqrt(HIDDEN), (HIDDEN, 1)), "b2": np.zeros(1),
    }

    first_loss = bce_loss(forward(params, x)[1], y)
    for step in range(1, STEPS + 1):
        batch = rng.choice(len(x), BATCH_SIZE, replace=False)  # a random mini-batch
        h, p = forward(params, x[batch])
        grads = backward(params, x[batch], y[batch], h, p)
        for name in params:
            params[name] -= LEARNING_RATE * grads[name]
        if step % 200 == 0:
            print(f"step {step:5d}  loss {bce_loss(forward(params, x)[1], y):.4f}")

    _, p = forward(params, x)
    final_loss = bce_loss(p, y)
    accuracy = np.mean((p > 0.5) == y)
    print(f"training accuracy: {accuracy:.1%}")
    print(f"first_loss={first_loss:.6f}")
    print(f"final_loss={final_loss:.6f}")


if __name__ == "__main__":
    main()
