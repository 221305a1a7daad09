"""Data-parallel training, simulated in one NumPy process: 2 workers, averaged gradients.

This is a simulation of what DDP / Horovod / MirroredStrategy do: each "worker" holds a copy of
the weights, computes hand-written gradients on its own shard of every batch, then an
"all-reduce" (here a plain average in one process) gives every worker the same mean gradient
and all copies take the same step. NumPy has no multi-device training of its own.
Run it with:  python train_numpy.py
"""
import sys

import numpy as np

# NumPy only runs on the CPU; the line is kept so every starter looks alike.
DEVICE = "cpu"
WORKERS = 2
STEPS = 400
GLOBAL_BATCH_SIZE = 128  # split evenly over the workers
LEARNING_RATE = 0.05
HIDDEN = 32


def forward(params, x):
    h = np.tanh(x @ params["w1"] + params["b1"])
    return h, h @ params["w2"] + params["b2"]


def gradients(params, x, y):
    """Mean-squared-error loss of one shard and its gradients, by hand."""
    h, pred = forward(params, x)
    d_pred = 2 * (pred - y) / len(x)
    d_h = (d_pred @ params["w2"].T) * (1 - h**2)  # chain rule through tanh
    grads = {"w2": h.T @ d_pred, "b2": d_pred.sum(0), "w1": x.T @ d_h, "b1": d_h.sum(0)}
    return float(np.mean((pred - y) ** 2)), grads


def all_reduce_mean(per_worker):
    """What the collective does over the network: every worker gets the element-wise mean."""
    return {name: np.mean([grads[name] for grads in per_worker], axis=0) for name in per_worker[0]}


def main():
    if DEVICE != "cpu":
        sys.exit(f"error: NumPy has no device {DEVICE!r}; it only runs on the CPU")
    rng = np.random.default_rng(0)
    true_w = rng.normal(size=(8, 1))
    init = {"w1": rng.normal(0, 1 / np.sqrt(8), (8, HIDDEN)), "b1": np.zeros(HIDDEN),
            "w2": rng.normal(0, 1 / np.sqrt(HIDDEN), (HIDDEN, 1)), "b2": np.zeros(1)}
    replicas = [{name: value.copy() for name, value in init.items()} for _ in range(WORKERS)]

    first_loss = None
    for step in range(1, STEPS + 1):
        x = rng.normal(size=(GLOBAL_BATCH_SIZE, 8))
        y = np.tanh(x @ true_w) + 0.05 * rng.normal(size=(GLOBAL_BATCH_SIZE, 1))
        shards = zip(np.array_split(x, WORKERS), np.array_split(y, WORKERS))
        # On a real cluster these run at the same time, one per machine or GPU.
        results = [gradients(params, xs, ys) for params, (xs, ys) in zip(replicas, shards)]
        mean_grads = all_reduce_mean([grads for _, grads in results])
        for params in replicas:  # the same update everywhere keeps the copies identical
            for name in params:
                params[name] -= LEARNING_RATE * mean_grads[name]
        loss = float(np.mean([shard_loss for shard_loss, _ in results]))
        if first_loss is None:
            first_loss = loss
            # Equal shards: the mean of shard gradients is exactly the full-batch gradient.
            full = gradients(init, x, y)[1]["w1"]
            print(f"shard-averaged gradient equals full-batch gradient: {np.allclose(mean_grads['w1'], full)}")
        if step % 100 == 0:
            print(f"step {step:4d}  mse {loss:.4f}")

    same = all(np.array_equal(replicas[0][n], r[n]) for r in replicas for n in init)
    print(f"{WORKERS} simulated workers hold identical weights: {same}")
    print(f"first_loss={first_loss:.6f}")
    print(f"final_loss={loss:.6f}")


if __name__ == "__main__":
    main()
