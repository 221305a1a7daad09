"""Recover the frequency and damping of a damped oscillator by gradient descent through its simulation.

The oscillator x'' = -omega^2 x - 2 zeta omega x' is integrated with RK4 steps inside
jax.lax.scan; jax.grad differentiates the loss through the whole simulation and jax.jit
compiles simulation, gradient and Optax update into one XLA program.
Run it with:  python train_jax.py
"""
import sys

import jax
import jax.numpy as jnp
import optax

# Where to train: "cpu", "gpu" or "tpu".
DEVICE = "cpu"
TRUE_PARAMS = {"omega": 2.0, "zeta": 0.15}
DT, N_STEPS = 0.1, 60  # simulate 6 seconds
ITERATIONS = 200
LEARNING_RATE = 0.05


def derivative(state, omega, zeta):
    """d/dt of [position, velocity] for a batch of oscillators (state has shape (batch, 2))."""
    x, v = state[:, 0], state[:, 1]
    return jnp.stack([v, -omega**2 * x - 2 * zeta * omega * v], axis=1)


def simulate(params, x0):
    """Positions after each of N_STEPS RK4 steps, shape (N_STEPS, batch)."""
    omega, zeta = params["omega"], params["zeta"]

    def rk4_step(state, _):
        k1 = derivative(state, omega, zeta)
        k2 = derivative(state + DT / 2 * k1, omega, zeta)
        k3 = derivative(state + DT / 2 * k2, omega, zeta)
        k4 = derivative(state + DT * k3, omega, zeta)
        state = state + DT / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        return state, state[:, 0]  # (carry, output collected over steps)

    _, positions = jax.lax.scan(rk4_step, x0, None, length=N_STEPS)
    return positions


def loss_fn(log_params, x0, observed):
    # Fit log-parameters: they stay positive, and both are on a similar scale for Adam.
    params = jax.tree.map(jnp.exp, log_params)
    return jnp.mean((simulate(params, x0) - observed) ** 2)


optimizer = optax.adam(LEARNING_RATE)


@jax.jit
def train_step(log_params, opt_state, x0, observed):
    loss, grads = jax.value_and_grad(loss_fn)(log_params, x0, observed)
    updates, opt_state = optimizer.update(grads, opt_state)
    return optax.apply_updates(log_params, updates), opt_state, loss


def main():
    try:
        device = jax.devices(DEVICE)[0]
    except RuntimeError:
        sys.exit(f"error: JAX device {DEVICE!r} is not available on this machine")

    with jax.default_device(device):
        # Four experiments with different starting positions and velocities, measured with noise.
        x0 = jnp.array([[1.0, 0.0], [0.0, 1.0], [-0.5, 0.5], [0.8, -1.0]])
        clean = simulate(TRUE_PARAMS, x0)
        observed = clean + 0.02 * jax.random.normal(jax.random.key(0), clean.shape)

        log_params = {"omega": jnp.log(1.4), "zeta": jnp.log(0.4)}  # a wrong first guess
        opt_state = optimizer.init(log_params)

        first_loss = None
        for step in range(1, ITERATIONS + 1):
            log_params, opt_state, loss = train_step(log_params, opt_state, x0, observed)
            if first_loss is None:
                first_loss = float(loss)
            if step % 40 == 0:
                fitted = jax.tree.map(jnp.exp, log_params)
                print(f"step {step:4d}  mse {float(loss):.5f}  omega {float(fitted['omega']):.3f}  "
                      f"zeta {float(fitted['zeta']):.3f}")

        final_loss = float(loss_fn(log_params, x0, observed))
    fitted = jax.tree.map(jnp.exp, log_params)
    for name, true_value in TRUE_PARAMS.items():
        print(f"{name}: fitted {float(fitted[name]):.4f}  true {true_value}")
    print(f"first_loss={first_loss:.6f}")
    print(f"final_loss={final_loss:.6f}")


if __name__ == "__main__":
    main()
