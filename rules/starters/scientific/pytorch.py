"""Recover the frequency and damping of a damped oscillator by gradient descent through its simulation.

The oscillator x'' = -omega^2 x - 2 zeta omega x' is integrated with RK4 steps written in plain
torch operations, so autograd differentiates the loss through every step of the simulation.
Noisy "measurements" come from the true parameters; the fit starts from a wrong guess.
Run it with:  python train_pytorch.py
"""
import sys

import torch

# Where to train: "cpu", "cuda", "mps" (Apple GPU) or "xpu" (Intel GPU).
DEVICE = "cpu"
TRUE_OMEGA, TRUE_ZETA = 2.0, 0.15
DT, N_STEPS = 0.2, 30  # simulate 6 seconds
ITERATIONS = 100
LEARNING_RATE = 0.05


def device_available(name):
    checks = {
        "cpu": lambda: True,
        "cuda": torch.cuda.is_available,
        "mps": torch.backends.mps.is_available,
        "xpu": lambda: hasattr(torch, "xpu") and torch.xpu.is_available(),
    }
    return name in checks and checks[name]()


def derivative(state, omega, zeta):
    """d/dt of [position, velocity] for a batch of oscillators (state has shape (batch, 2))."""
    x, v = state[:, 0], state[:, 1]
    return torch.stack([v, -omega**2 * x - 2 * zeta * omega * v], dim=1)


def simulate(x0, omega, zeta):
    """Positions after each of N_STEPS classic Runge-Kutta (RK4) steps, shape (batch, N_STEPS)."""
    state, positions = x0, []
    for _ in range(N_STEPS):
        k1 = derivative(state, omega, zeta)
        k2 = derivative(state + DT / 2 * k1, omega, zeta)
        k3 = derivative(state + DT / 2 * k2, omega, zeta)
        k4 = derivative(state + DT * k3, omega, zeta)
        state = state + DT / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        positions.append(state[:, 0])
    return torch.stack(positions, dim=1)


def main():
    if not device_available(DEVICE):
        sys.exit(f"error: PyTorch device {DEVICE!r} is not available on this machine")
    device = torch.device(DEVICE)
    torch.manual_seed(0)

    # Four experiments with different starting positions and velocities, measured with noise.
    x0 = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-0.5, 0.5], [0.8, -1.0]], device=device)
    with torch.no_grad():
        observed = simulate(x0, TRUE_OMEGA, TRUE_ZETA)
        observed += 0.02 * torch.randn(observed.shape, device=device)

    # Fit log-parameters: they stay positive, and both are on a similar scale for Adam.
    log_omega = torch.tensor(1.4, device=device).log().requires_grad_()
    log_zeta = torch.tensor(0.4, device=device).log().requires_grad_()
    optimizer = torch.optim.Adam([log_omega, log_zeta], lr=LEARNING_RATE)

    first_loss = None
    for step in range(1, ITERATIONS + 1):
        optimizer.zero_grad()
        loss = torch.mean((simulate(x0, log_omega.exp(), log_zeta.exp()) - observed) ** 2)
        loss.backward()  # backpropagates through all 30 RK4 steps
        optimizer.step()
        if first_loss is None:
            first_loss = loss.item()
        if step % 20 == 0:
            print(f"step {step:4d}  mse {loss.item():.5f}  omega {log_omega.exp().item():.3f}  "
                  f"zeta {log_zeta.exp().item():.3f}")

    with torch.no_grad():
        omega, zeta = log_omega.exp(), log_zeta.exp()
        final_loss = torch.mean((simulate(x0, omega, zeta) - observed) ** 2).item()
    print(f"omega: fitted {omega.item():.4f}  true {TRUE_OMEGA}")
    print(f"zeta:  fitted {zeta.item():.4f}  true {TRUE_ZETA}")
    print(f"first_loss={first_loss:.6f}")
    print(f"final_loss={final_loss:.6f}")


if __name__ == "__main__":
    main()
