"""Train a tiny MLX classifier, export it as a .mlxfn file, reload the artifact and check it.

mx.exporter (mx.export_function for a single trace) records the model's forward pass, weights
included, into a .mlxfn file; mx.import_function loads it back as a plain function (no model
class needed, and C++ can load it too). The reloaded function's outputs must match the model's.
Run it with:  python train_mlx.py
"""
import sys
import tempfile
from pathlib import Path

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim

# Where to train: "cpu" or "gpu".
DEVICE = "cpu"
STEPS = 200
LEARNING_RATE = 0.01


def make_blobs(n):
    """Three Gaussian blobs in 4 dimensions, one per class."""
    centers = mx.array([[2.0, 0, 0, 1], [0, 2.0, 1, 0], [-1, -1, -2.0, 0]])
    y = mx.random.randint(0, 3, (n,))
    return centers[y] + mx.random.normal((n, 4)), y


def loss_fn(model, x, y):
    return nn.losses.cross_entropy(model(x), y, reduction="mean")


def main():
    device = mx.gpu if DEVICE == "gpu" else mx.cpu
    if DEVICE not in ("cpu", "gpu") or not mx.is_available(device):
        sys.exit(f"error: MLX device {DEVICE!r} is not available on this machine")
    mx.set_default_device(device)
    mx.random.seed(0)
    x, y = make_blobs(600)

    model = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 3))
    mx.eval(model.parameters())
    optimizer = optim.Adam(learning_rate=LEARNING_RATE)
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
    model.eval()

    new_x, new_y = make_blobs(200)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "classifier.mlxfn"
        # A trace is for fixed input shapes; mx.exporter records one per batch size served.
        # (shapeless=True gave wrong outputs for nn.Linear at other batch sizes on MLX 0.32 CPU.)
        with mx.exporter(str(path), model) as exporter:
            exporter(mx.zeros((1, 4)))  # single requests
            exporter(new_x)  # batches of 200
        print(f"exported {path.name}: {path.stat().st_size} bytes")
        reloaded = mx.import_function(str(path))
        # Weights alone go to safetensors with model.save_weights(...) / model.load_weights(...),
        # the format mlx-lm and the Hugging Face mlx-community models use.

        (served,) = reloaded(new_x)  # an imported function returns a list of arrays
        (single,) = reloaded(new_x[:1])
        mx.eval(served, single)
    expected = model(new_x)
    max_diff = max(mx.max(mx.abs(served - expected)).item(), mx.max(mx.abs(single - expected[:1])).item())
    if max_diff > 1e-5:
        sys.exit(f"error: the reloaded model's outputs differ by {max_diff}")
    final_loss = nn.losses.cross_entropy(served, new_y, reduction="mean").item()
    accuracy = mx.mean(mx.argmax(served, axis=1) == new_y).item()
    print(f"reloaded artifact matches the trained model (max difference {max_diff:.2e})")
    print(f"accuracy of the reloaded artifact on new data: {accuracy:.1%}")
    print(f"first_loss={first_loss:.6f}")
    print(f"final_loss={final_loss:.6f}")


if __name__ == "__main__":
    main()
