"""Data-parallel training with mx.distributed: every process trains on its shard, gradients are averaged.

mx.distributed.init() joins the group of processes started by mlx.launch; each process takes
its own slice of every batch, computes gradients, and nn.average_gradients all-reduces them
(mx.distributed.all_sum / size) so every copy of the model takes the same step.
Run with plain python, the group has one process (the all-reduce is then the identity, the code
is unchanged); mlx.launch starts several, on one machine or on several Macs (--hosts).
Run it with:  python train_mlx.py     (two processes:  mlx.launch -n 2 python train_mlx.py)
"""
import sys

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim

# Where to train: "cpu" or "gpu".
DEVICE = "cpu"
STEPS = 300
GLOBAL_BATCH_SIZE = 256  # split evenly over the processes
LEARNING_RATE = 0.01


class MLP(nn.Module):
    def __init__(self, n_in, n_hidden, n_out):
        super().__init__()
        self.hidden = nn.Linear(n_in, n_hidden)
        self.out = nn.Linear(n_hidden, n_out)

    def __call__(self, x):
        return self.out(nn.relu(self.hidden(x)))


def loss_fn(model, x, y):
    return nn.losses.mse_loss(model(x), y, reduction="mean")


def main():
    device = mx.gpu if DEVICE == "gpu" else mx.cpu
    if DEVICE not in ("cpu", "gpu") or not mx.is_available(device):
        sys.exit(f"error: MLX device {DEVICE!r} is not available on this machine")
    mx.set_default_device(device)
    group = mx.distributed.init()  # the processes of this run; size 1 without mlx.launch
    rank, size = group.rank(), group.size()

    def report(message):  # only the first process prints
        if rank == 0:
            print(message, flush=True)

    report(f"distributed group: {size} process(es)")
    mx.random.seed(0)  # the same seed everywhere: the same data stream and initial weights
    true_w = mx.random.normal((8, 1))
    model = MLP(8, 64, 1)
    mx.eval(model.parameters())
    optimizer = optim.Adam(learning_rate=LEARNING_RATE)
    loss_and_grad = nn.value_and_grad(model, loss_fn)
    local = GLOBAL_BATCH_SIZE // size

    first_loss = None
    for step in range(1, STEPS + 1):
        x = mx.random.normal((GLOBAL_BATCH_SIZE, 8))
        y = mx.tanh(x @ true_w) + 0.05 * mx.random.normal((GLOBAL_BATCH_SIZE, 1))
        x, y = x[rank * local:(rank + 1) * local], y[rank * local:(rank + 1) * local]  # this shard
        loss, grads = loss_and_grad(model, x, y)
        grads = nn.average_gradients(grads)  # all-reduce: the mean gradient of all shards
        optimizer.update(model, grads)
        loss = mx.distributed.all_sum(loss) / size  # the global batch's loss, for reporting
        mx.eval(model.parameters(), optimizer.state, loss)
        if first_loss is None:
            first_loss = loss.item()
        if step % 100 == 0:
            report(f"step {step:4d}  mse {loss.item():.4f}")

    report(f"first_loss={first_loss:.6f}")
    report(f"final_loss={loss.item():.6f}")


if __name__ == "__main__":
    main()
