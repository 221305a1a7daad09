"""Fine-tune a pretrained MLX model: load a checkpoint, freeze the body, train a new head.

There is no network here, so the "pretrained" model is made first: a small network is trained
on a base task (which of 8 angular sectors a point lies in) and its weights are saved to a
safetensors file. Then the pattern used with downloaded weights: load the weights into a fresh
model, freeze it, replace the head, and fine-tune only the head on a new task (inner vs outer
ring) with few labelled examples.
Run it with:  python train_mlx.py
"""
import math
import sys
import tempfile
from pathlib import Path

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim
from mlx.utils import tree_flatten

# Where to train: "cpu" or "gpu".
DEVICE = "cpu"
STEPS = 200
LEARNING_RATE = 0.01
HIDDEN = 32


class Net(nn.Module):
    def __init__(self, n_classes):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(2, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, HIDDEN), nn.ReLU())
        self.head = nn.Linear(HIDDEN, n_classes)

    def __call__(self, x):
        return self.head(self.body(x))


def loss_fn(model, x, y):
    return nn.losses.cross_entropy(model(x), y, reduction="mean")


def train(model, x, y, label):
    optimizer = optim.Adam(learning_rate=LEARNING_RATE)
    loss_and_grad = nn.value_and_grad(model, loss_fn)  # gradients of trainable parameters only
    losses = []
    for step in range(1, STEPS + 1):
        loss, grads = loss_and_grad(model, x, y)
        optimizer.update(model, grads)
        mx.eval(model.parameters(), optimizer.state, loss)
        losses.append(loss.item())
        if step % 50 == 0:
            print(f"{label} step {step:4d}  loss {losses[-1]:.4f}")
    return losses


def make_points(n):
    """Points in two rings; labels for both tasks: angular sector (8 classes) and ring (2)."""
    angle = mx.random.uniform(0, 2 * math.pi, (n,))
    ring = mx.random.randint(0, 2, (n,))
    radius = 1.0 + ring + 0.15 * mx.random.normal((n,))
    x = mx.stack([radius * mx.cos(angle), radius * mx.sin(angle)], axis=1)
    sector = mx.minimum(angle / (2 * math.pi) * 8, 7).astype(mx.int32)
    return x, sector, ring


def main():
    device = mx.gpu if DEVICE == "gpu" else mx.cpu
    if DEVICE not in ("cpu", "gpu") or not mx.is_available(device):
        sys.exit(f"error: MLX device {DEVICE!r} is not available on this machine")
    mx.set_default_device(device)
    mx.random.seed(0)

    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = str(Path(tmp) / "base.safetensors")
        # 1. Stand-in for a model hub: pretrain on the base task, save the weights.
        x, sector, _ = make_points(2000)
        base = Net(n_classes=8)
        train(base, x, sector, label="pretrain")
        base.save_weights(checkpoint)

        # 2. Fine-tuning. With real weights this step would be a download, e.g.
        #    from mlx_lm import load; model, tokenizer = load("mlx-community/Qwen2.5-0.5B-Instruct-4bit")
        #    then model.freeze() and LoRA adapters (mlx_lm.lora) or a new head are trained.
        model = Net(n_classes=8)
        model.load_weights(checkpoint)  # strict: every weight must match by name and shape
    model.freeze()  # no parameter of the loaded model is trainable any more
    model.head = nn.Linear(HIDDEN, 2)  # a fresh (trainable) head for the new task's 2 classes
    mx.eval(model.parameters())
    n_trainable = sum(v.size for _, v in tree_flatten(model.trainable_parameters()))
    n_total = sum(v.size for _, v in tree_flatten(model.parameters()))
    print(f"trainable parameters: {n_trainable} of {n_total}")

    x_new, _, ring = make_points(200)  # few labelled examples
    losses = train(model, x_new, ring, label="fine-tune")

    x_test, _, ring_test = make_points(1000)
    accuracy = mx.mean(mx.argmax(model(x_test), axis=1) == ring_test).item()
    print(f"new-task accuracy on held-out points: {accuracy:.1%}")
    print(f"first_loss={losses[0]:.6f}")
    print(f"final_loss={losses[-1]:.6f}")


if __name__ == "__main__":
    main()
