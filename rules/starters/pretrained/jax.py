"""Fine-tune a pretrained JAX model: load a checkpoint, freeze the body, train a new head.

There is no network here, so the "pretrained" model is made first: a small network is trained
on a base task (which of 8 angular sectors a point lies in) and its parameters are saved to a
checkpoint file. Then the pattern used with downloaded weights: load the checkpoint, replace the
head, freeze the body (optax.multi_transform with set_to_zero) and fine-tune on a new task
(inner vs outer ring) with few labelled examples.
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
STEPS = 200
LEARNING_RATE = 0.01


def dense(key, n_in, n_out):
    return {"w": jax.random.normal(key, (n_in, n_out)) / n_in**0.5, "b": jnp.zeros(n_out)}


def predict(params, x):
    for layer in params["body"]:
        x = jax.nn.relu(x @ layer["w"] + layer["b"])
    return x @ params["head"]["w"] + params["head"]["b"]


def loss_fn(params, x, y):
    return optax.softmax_cross_entropy_with_integer_labels(predict(params, x), y).mean()


def fit(params, optimizer, x, y, label):
    opt_state = optimizer.init(params)

    @jax.jit
    def train_step(params, opt_state, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    losses = []
    for step in range(1, STEPS + 1):
        params, opt_state, loss = train_step(params, opt_state, x, y)
        losses.append(float(loss))
        if step % 50 == 0:
            print(f"{label} step {step:4d}  loss {losses[-1]:.4f}")
    return params, losses


def make_points(rng, n):
    """Points in two rings; labels for both tasks: angular sector (8 classes) and ring (2)."""
    angle, ring = rng.uniform(0, 2 * np.pi, n), rng.integers(0, 2, n)
    radius = 1.0 + ring + 0.15 * rng.normal(size=n)
    x = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1).astype(np.float32)
    return jnp.array(x), jnp.array(np.minimum(angle / (2 * np.pi) * 8, 7).astype(int)), jnp.array(ring)


def main():
    try:
        device = jax.devices(DEVICE)[0]
    except RuntimeError:
        sys.exit(f"error: JAX device {DEVICE!r} is not available on this machine")
    rng = np.random.default_rng(0)
    keys = jax.random.split(jax.random.key(0), 4)

    with jax.default_device(device), tempfile.TemporaryDirectory() as tmp:
        # 1. Stand-in for a model hub: pretrain on the base task, save the parameters.
        x, sector, _ = make_points(rng, 2000)
        params = {"body": [dense(keys[0], 2, 64), dense(keys[1], 64, 64)], "head": dense(keys[2], 64, 8)}
        params, _ = fit(params, optax.adam(LEARNING_RATE), x, sector, label="pretrain")
        checkpoint = Path(tmp) / "base.npz"
        leaves, treedef = jax.tree.flatten(params)
        np.savez(checkpoint, *[np.asarray(leaf) for leaf in leaves])

        # 2. Fine-tuning. With real weights the checkpoint would be downloaded, e.g.
        #    path = huggingface_hub.snapshot_download("google/vit-base-patch16-224")  # then
        #    restore it with orbax.checkpoint, or use keras_hub.models.Backbone.from_preset(...)
        #    with KERAS_BACKEND=jax; the frozen-body / new-head code below stays the same.
        with np.load(checkpoint) as archive:
            params = jax.tree.unflatten(treedef, [jnp.asarray(archive[f"arr_{i}"]) for i in range(len(leaves))])
        params["head"] = dense(keys[3], 64, 2)  # a fresh head for the new task's 2 classes
        # Freeze the body the Optax way: its updates are set to zero, only the head gets Adam.
        labels = {"body": jax.tree.map(lambda _: "frozen", params["body"]),
                  "head": jax.tree.map(lambda _: "trained", params["head"])}
        optimizer = optax.multi_transform({"trained": optax.adam(LEARNING_RATE), "frozen": optax.set_to_zero()},
                                          labels)
        x_new, _, ring = make_points(rng, 200)  # few labelled examples
        params, losses = fit(params, optimizer, x_new, ring, label="fine-tune")

        x_test, _, ring_test = make_points(rng, 1000)
        accuracy = float(jnp.mean(jnp.argmax(predict(params, x_test), axis=1) == ring_test))
    print(f"new-task accuracy on held-out points: {accuracy:.1%}")
    print(f"first_loss={losses[0]:.6f}")
    print(f"final_loss={losses[-1]:.6f}")


if __name__ == "__main__":
    main()
