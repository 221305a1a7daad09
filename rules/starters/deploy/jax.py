"""Train a tiny JAX + Optax regressor, export it with jax.export, reload the artifact and check it.

jax.export lowers the jitted prediction function, trained weights baked in, to StableHLO with
a symbolic batch size; the serialized bytes are written to a file, deserialized and called
without the Python model code. Its outputs must match the trained function's.
Run it with:  python train_jax.py
"""
import sys
import tempfile
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

# Where to train: "cpu", "gpu" or "tpu".
DEVICE = "cpu"
STEPS = 300
LEARNING_RATE = 0.01


def init_params(key, sizes):
    keys = jax.random.split(key, len(sizes) - 1)
    return [{"w": jax.random.normal(k, (n_in, n_out)) / n_in**0.5, "b": jnp.zeros(n_out)}
            for k, n_in, n_out in zip(keys, sizes[:-1], sizes[1:])]


def predict(params, x):
    for layer in params[:-1]:
        x = jax.nn.gelu(x @ layer["w"] + layer["b"])
    return x @ params[-1]["w"] + params[-1]["b"]


def loss_fn(params, x, y):
    return jnp.mean((predict(params, x) - y) ** 2)


optimizer = optax.adam(LEARNING_RATE)


@jax.jit
def train_step(params, opt_state, x, y):
    loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
    updates, opt_state = optimizer.update(grads, opt_state)
    return optax.apply_updates(params, updates), opt_state, loss


def make_data(key, n):
    """y = sin(x0) * cos(x1) + noise, for points in [-2, 2]^2."""
    x_key, noise_key = jax.random.split(key)
    x = jax.random.uniform(x_key, (n, 2), minval=-2.0, maxval=2.0)
    return x, jnp.sin(x[:, :1]) * jnp.cos(x[:, 1:]) + 0.05 * jax.random.normal(noise_key, (n, 1))


def main():
    try:
        device = jax.devices(DEVICE)[0]
    except RuntimeError:
        sys.exit(f"error: JAX device {DEVICE!r} is not available on this machine")

    with jax.default_device(device):
        train_key, test_key, init_key = jax.random.split(jax.random.key(0), 3)
        x, y = make_data(train_key, 512)
        params = init_params(init_key, [2, 32, 32, 1])
        opt_state = optimizer.init(params)
        first_loss = None
        for step in range(1, STEPS + 1):
            params, opt_state, loss = train_step(params, opt_state, x, y)
            if first_loss is None:
                first_loss = float(loss)
            if step % 100 == 0:
                print(f"step {step:4d}  mse {float(loss):.4f}")

        # Close over the trained weights: they become constants of the exported program.
        serve = jax.jit(lambda inputs: predict(params, inputs))
        batch_shape = jax.export.symbolic_shape("b, 2")  # any batch size
        exported = jax.export.export(serve)(jax.ShapeDtypeStruct(batch_shape, jnp.float32))
        # platforms=["cpu", "cuda", "tpu"] exports for several targets at once; for TF Serving or
        # TFLite, jax.experimental.jax2tf.convert(serve) wraps the same function for TensorFlow.

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "regressor.jaxexport"
            path.write_bytes(exported.serialize())
            print(f"exported {path.name}: {path.stat().st_size} bytes for {exported.platforms}")
            reloaded = jax.export.deserialize(bytearray(path.read_bytes()))

        new_x, new_y = make_data(test_key, 200)
        served = reloaded.call(new_x)  # runs the deserialized StableHLO; no model code needed
        expected = predict(params, new_x)
        max_diff = float(jnp.max(jnp.abs(served - expected)))
        if not np.allclose(served, expected, atol=1e-5):
            sys.exit(f"error: the reloaded model's outputs differ by {max_diff}")
        final_loss = float(jnp.mean((served - new_y) ** 2))
    print(f"reloaded artifact matches the trained function (max difference {max_diff:.2e})")
    print(f"first_loss={first_loss:.6f}")
    print(f"final_loss={final_loss:.6f}")


if __name__ == "__main__":
    main()
