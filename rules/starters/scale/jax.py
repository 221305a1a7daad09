"""Data-parallel training in JAX: shard each batch over the devices of a Mesh, jit one step.

Parameters are replicated on every device and each batch is split along a "data" mesh axis
(NamedSharding). jax.jit compiles the step for those shardings; XLA inserts the cross-device
gradient all-reduce itself, so the training code reads like single-device code.
On CPU, XLA is asked for 2 host devices so the sharding is real even without accelerators.
Run it with:  python train_jax.py
"""
import os
import sys

# Where to train: "cpu", "gpu" or "tpu".
DEVICE = "cpu"
if DEVICE == "cpu":  # must happen before jax is imported: split the CPU into 2 XLA devices
    os.environ["XLA_FLAGS"] = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2"

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

STEPS = 300
BATCH_PER_DEVICE = 128
LEARNING_RATE = 0.01


def init_params(key, sizes):
    keys = jax.random.split(key, len(sizes) - 1)
    return [{"w": jax.random.normal(k, (n_in, n_out)) / n_in**0.5, "b": jnp.zeros(n_out)}
            for k, n_in, n_out in zip(keys, sizes[:-1], sizes[1:])]


def predict(params, x):
    for layer in params[:-1]:
        x = jax.nn.relu(x @ layer["w"] + layer["b"])
    return x @ params[-1]["w"] + params[-1]["b"]


def loss_fn(params, x, y):
    return jnp.mean((predict(params, x) - y) ** 2)


optimizer = optax.adam(LEARNING_RATE)


@jax.jit  # shardings come from the inputs; outputs keep the replicated parameter sharding
def train_step(params, opt_state, x, y):
    loss, grads = jax.value_and_grad(loss_fn)(params, x, y)  # the mean over the global batch
    updates, opt_state = optimizer.update(grads, opt_state)
    return optax.apply_updates(params, updates), opt_state, loss


def main():
    try:
        devices = jax.devices(DEVICE)
    except RuntimeError:
        sys.exit(f"error: JAX device {DEVICE!r} is not available on this machine")
    mesh = Mesh(np.array(devices), axis_names=("data",))
    replicated = NamedSharding(mesh, P())  # a full copy on every device
    by_batch = NamedSharding(mesh, P("data"))  # rows split across the "data" axis
    print(f"mesh: {len(devices)} {DEVICE} devices on axis 'data'")

    rng = np.random.default_rng(0)
    true_w = rng.normal(size=(8, 1))
    params = jax.device_put(init_params(jax.random.key(0), [8, 64, 1]), replicated)
    opt_state = jax.device_put(optimizer.init(params), replicated)
    global_batch = BATCH_PER_DEVICE * len(devices)

    first_loss = None
    for step in range(1, STEPS + 1):
        x = rng.normal(size=(global_batch, 8)).astype(np.float32)
        y = (np.tanh(x @ true_w) + 0.05 * rng.normal(size=(global_batch, 1))).astype(np.float32)
        # device_put splits the batch: each device receives BATCH_PER_DEVICE rows.
        x, y = jax.device_put((x, y), by_batch)
        params, opt_state, loss = train_step(params, opt_state, x, y)
        if first_loss is None:
            first_loss = float(loss)
            print(f"batch sharding: {x.sharding.spec}, rows per device: "
                  f"{[shard.data.shape[0] for shard in x.addressable_shards]}")
        if step % 100 == 0:
            print(f"step {step:4d}  mse {float(loss):.4f}")

    final_loss = float(loss)
    print(f"parameters replicated on {len(params[0]['w'].sharding.device_set)} devices")
    print(f"first_loss={first_loss:.6f}")
    print(f"final_loss={final_loss:.6f}")


if __name__ == "__main__":
    main()
