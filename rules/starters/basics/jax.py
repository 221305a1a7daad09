"""Train a small JAX + Optax MLP to fit a noisy sine wave.

The model is a pure function of its parameters; randomness comes from
explicit PRNG keys, so every run gives the same numbers.
Run it with:  python train_jax.py
"""
import sys

import jax
import jax.numpy as jnp
import optax

# Where to train: "cpu", "gpu" or "tpu".
DEVICE = "cpu"
STEPS = 500
LEARNING_RATE = 0.01
LAYER_SIZES = [1, 64, 64, 1]


def init_params(key, sizes):
    params = []
    keys = jax.random.split(key, len(sizes) - 1)  # one fresh key per layer: never reuse a key
    for layer_key, n_in, n_out in zip(keys, sizes[:-1], sizes[1:]):
        w = jax.random.normal(layer_key, (n_in, n_out)) / n_in**0.5
        params.append({"w": w, "b": jnp.zeros(n_out)})
    return params


def predict(params, x):
    for layer in params[:-1]:
        x = jnp.tanh(x @ layer["w"] + layer["b"])
    return x @ params[-1]["w"] + params[-1]["b"]


@jax.jit
def loss_fn(params, x, y):
    return jnp.mean((predict(params, x) - y) ** 2)


optimizer = optax.adam(LEARNING_RATE)


@jax.jit  # compiled once, then every step runs as one fused XLA program
def train_step(params, opt_state, x, y):
    loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
    updates, opt_state = optimizer.update(grads, opt_state)
    return optax.apply_updates(params, updates), opt_state, loss


def main():
    try:
        device = jax.devices(DEVICE)[0]
    except RuntimeError:
        sys.exit(f"error: JAX device {DEVICE!r} is not available on this machine")

    # Every array created inside this block lives on the chosen device.
    with jax.default_device(device):
        data_key, noise_key, init_key = jax.random.split(jax.random.key(0), 3)
        x = jax.random.uniform(data_key, (512, 1), minval=-3.0, maxval=3.0)
        y = jnp.sin(2 * x) + 0.1 * jax.random.normal(noise_key, x.shape)
        params = init_params(init_key, LAYER_SIZES)
        opt_state = optimizer.init(params)

        first_loss = None
        for step in range(1, STEPS + 1):
            params, opt_state, loss = train_step(params, opt_state, x, y)
            if first_loss is None:
                first_loss = float(loss)
            if step % 100 == 0:
                print(f"step {step:4d}  mse {float(loss):.4f}")

        final_loss = float(loss_fn(params, x, y))
    # The noise has variance 0.01, so an MSE near 0.01 means the sine was learned.
    print(f"final RMSE: {final_loss ** 0.5:.4f} (noise level 0.1)")
    print(f"first_loss={first_loss:.6f}")
    print(f"final_loss={final_loss:.6f}")


if __name__ == "__main__":
    main()
