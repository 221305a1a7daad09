"""Recover the growth rate and carrying capacity of logistic growth by gradient descent through its simulation.

dN/dt = r N (1 - N / K) is integrated with explicit Euler steps. NumPy has no autodiff, so
the gradients are derived by hand: forward sensitivities dN/dr and dN/dK are stepped along
with N (exact gradients of the simulation), then checked once against central finite differences.
Run it with:  python train_numpy.py
"""
import sys

import numpy as np

# NumPy only runs on the CPU; the line is kept so every starter looks alike.
DEVICE = "cpu"
TRUE_RATE, TRUE_CAPACITY = 0.8, 50.0
DT, N_STEPS = 0.1, 100  # simulate 10 time units
ITERATIONS = 150
LEARNING_RATE = 0.5


def simulate(rate, capacity, n0):
    """Populations after each Euler step, and their derivatives w.r.t. rate and capacity."""
    n, dn_dr, dn_dk = n0.copy(), np.zeros_like(n0), np.zeros_like(n0)
    populations, d_rate, d_capacity = [], [], []
    for _ in range(N_STEPS):
        slope = rate * (1 - 2 * n / capacity)  # d(growth)/dN, the chain rule through N
        dn_dr = dn_dr + DT * (n * (1 - n / capacity) + slope * dn_dr)
        dn_dk = dn_dk + DT * (rate * n**2 / capacity**2 + slope * dn_dk)
        n = n + DT * rate * n * (1 - n / capacity)
        populations.append(n)
        d_rate.append(dn_dr)
        d_capacity.append(dn_dk)
    return np.stack(populations, 1), np.stack(d_rate, 1), np.stack(d_capacity, 1)


def loss_and_grad(log_params, n0, observed):
    """Mean squared relative error and its gradient w.r.t. (log rate, log capacity)."""
    rate, capacity = np.exp(log_params)
    n, dn_dr, dn_dk = simulate(rate, capacity, n0)
    residual = (n - observed) / TRUE_CAPACITY
    loss = np.mean(residual**2)
    d_residual = 2 * residual / residual.size / TRUE_CAPACITY
    # d/d(log p) = p * d/dp
    grad = np.array([rate * np.sum(d_residual * dn_dr), capacity * np.sum(d_residual * dn_dk)])
    return loss, grad


def main():
    if DEVICE != "cpu":
        sys.exit(f"error: NumPy has no device {DEVICE!r}; it only runs on the CPU")
    rng = np.random.default_rng(0)

    n0 = np.array([2.0, 5.0, 10.0])  # three cultures, different starting populations
    clean = simulate(TRUE_RATE, TRUE_CAPACITY, n0)[0]
    observed = clean * (1 + 0.03 * rng.normal(size=clean.shape))  # 3% measurement noise

    # Fit log-parameters: they stay positive, and both are on a similar scale.
    log_params = np.log([0.3, 80.0])  # a wrong first guess

    # Gradient check: the hand-derived gradient against central finite differences.
    _, grad = loss_and_grad(log_params, n0, observed)
    eps = 1e-6
    numeric = [(loss_and_grad(log_params + eps * e, n0, observed)[0]
                - loss_and_grad(log_params - eps * e, n0, observed)[0]) / (2 * eps) for e in np.eye(2)]
    print(f"gradient check: max difference {np.max(np.abs(grad - numeric)):.2e}")

    first_loss = None
    for step in range(1, ITERATIONS + 1):
        loss, grad = loss_and_grad(log_params, n0, observed)
        log_params -= LEARNING_RATE * grad
        if first_loss is None:
            first_loss = loss
        if step % 30 == 0:
            rate, capacity = np.exp(log_params)
            print(f"step {step:4d}  loss {loss:.6f}  rate {rate:.3f}  capacity {capacity:.2f}")

    final_loss = loss_and_grad(log_params, n0, observed)[0]
    rate, capacity = np.exp(log_params)
    print(f"rate:     fitted {rate:.4f}  true {TRUE_RATE}")
    print(f"capacity: fitted {capacity:.3f}  true {TRUE_CAPACITY}")
    print(f"first_loss={first_loss:.6f}")
    print(f"final_loss={final_loss:.6f}")


if __name__ == "__main__":
    main()
