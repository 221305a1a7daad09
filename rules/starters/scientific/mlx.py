"""Recover the growth rate and carrying capacity of logistic growth by gradient descent through its simulation.

dN/dt = r N (1 - N / K) is integrated with RK4 steps written in MLX operations; the two
unknowns are the parameters of an nn.Module, so nn.value_and_grad differentiates the loss
through every step of the simulation. Noisy counts from three cultures are the data.
Run it with:  python train_mlx.py
"""
import math
import sys

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim

# Where to train: "cpu" or "gpu".
DEVICE = "cpu"
TRUE_RATE, TRUE_CAPACITY = 0.8, 50.0
DT, N_STEPS = 0.5, 20  # simulate 10 time units
ITERATIONS = 120
LEARNING_RATE = 0.05


class LogisticGrowth(nn.Module):
    """The physical model; its log-parameters are what gets fitted (they stay positive)."""

    def __init__(self, rate, capacity):
        super().__init__()
        self.log_rate = mx.array(math.log(rate))
        self.log_capacity = mx.array(math.log(capacity))

    def __call__(self, n0):
        """Population after each RK4 step, shape (batch, N_STEPS)."""
        rate, capacity = mx.exp(self.log_rate), mx.exp(self.log_capacity)

        def growth(n):
            return rate * n * (1 - n / capacity)

        n, populations = n0, []
        for _ in range(N_STEPS):
            k1 = growth(n)
            k2 = growth(n + DT / 2 * k1)
            k3 = growth(n + DT / 2 * k2)
            k4 = growth(n + DT * k3)
            n = n + DT / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
            populations.append(n)
        return mx.stack(populations, axis=1)


def loss_fn(model, n0, observed):
    # Relative error: large and small populations count alike.
    return mx.mean(((model(n0) - observed) / TRUE_CAPACITY) ** 2)


def main():
    device = mx.gpu if DEVICE == "gpu" else mx.cpu
    if DEVICE not in ("cpu", "gpu") or not mx.is_available(device):
        sys.exit(f"error: MLX device {DEVICE!r} is not available on this machine")
    mx.set_default_device(device)
    mx.random.seed(0)

    n0 = mx.array([2.0, 5.0, 10.0])  # three cultures, different starting populations
    clean = LogisticGrowth(TRUE_RATE, TRUE_CAPACITY)(n0)
    observed = clean * (1 + 0.03 * mx.random.normal(clean.shape))  # 3% measurement noise

    model = LogisticGrowth(rate=0.3, capacity=80.0)  # a wrong first guess
    optimizer = optim.Adam(learning_rate=LEARNING_RATE)
    loss_and_grad = nn.value_and_grad(model, loss_fn)

    first_loss = None
    for step in range(1, ITERATIONS + 1):
        loss, grads = loss_and_grad(model, n0, observed)  # gradients through all 20 RK4 steps
        optimizer.update(model, grads)
        mx.eval(model.parameters(), optimizer.state, loss)
        if first_loss is None:
            first_loss = loss.item()
        if step % 20 == 0:
            print(f"step {step:4d}  loss {loss.item():.6f}  rate {mx.exp(model.log_rate).item():.3f}  "
                  f"capacity {mx.exp(model.log_capacity).item():.2f}")

    final_loss = loss_fn(model, n0, observed).item()
    print(f"rate:     fitted {mx.exp(model.log_rate).item():.4f}  true {TRUE_RATE}")
    print(f"capacity: fitted {mx.exp(model.log_capacity).item():.3f}  true {TRUE_CAPACITY}")
    print(f"first_loss={first_loss:.6f}")
    print(f"final_loss={final_loss:.6f}")


if __name__ == "__main__":
    main()
