"""Train a small MLX MLP to tell points inside a circle from points outside it.

MLX is lazy: operations only build a graph until mx.eval() runs it, so the
training loop evaluates the model and optimizer state after every step.
Run it with:  python train_mlx.py
"""
import sys

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim

# Where to train: "cpu" or "gpu".
DEVICE = "cpu"
STEPS = 300
LEARNING_RATE = 0.01


class MLP(nn.Module):
    def __init__(self, n_in, n_hidden, n_out):
        super().__init__()
        self.hidden = nn.Linear(n_in, n_hidden)
        self.out = nn.Linear(n_hidden, n_out)

    def __call__(self, x):
        return self.out(nn.relu(self.hidden(x)))


def loss_fn(model, x, y):
    return nn.losses.cross_entropy(model(x), y, reduction="mean")


def main():
    device = mx.gpu if DEVICE == "gpu" else mx.cpu
    if DEVICE not in ("cpu", "gpu") or not mx.is_available(device):
        sys.exit(f"error: MLX device {DEVICE!r} is not available on this machine")
    mx.set_default_device(device)
    mx.random.seed(0)

    # Label 1 for points inside a circle of radius 1, 0 outside.
    x = mx.random.uniform(-1.5, 1.5, shape=(256, 2))
    y = (mx.sum(x * x, axis=1) < 1.0).astype(mx.int32)

    model = MLP(2, 32, 2)
    mx.eval(model.parameters())  # materialize the random initial weights
    optimizer = optim.Adam(learning_rate=LEARNING_RATE)
    # Returns a function giving the loss and its gradients w.r.t. the model's parameters.
    loss_and_grad = nn.value_and_grad(model, loss_fn)

    first_loss = None
    for step in range(1, STEPS + 1):
        loss, grads = loss_and_grad(model, x, y)
        optimizer.update(model, grads)
        mx.eval(model.parameters(), optimizer.state, loss)
        if first_loss is None:
            first_loss = loss.item()
        if step % 50 == 0:
            print(f"step {step:4d}  loss {loss.item():.4f}")

    logits = model(x)
    final_loss = loss_fn(model, x, y).item()
    accuracy = mx.mean(mx.argmax(logits, axis=1) == y).item()
    print(f"training accuracy: {accuracy:.1%}")
    print(f"first_loss={first_loss:.6f}")
    print(f"final_loss={final_loss:.6f}")


if __name__ == "__main__":
    main()
