"""Train a tiny PyTorch classifier, export it with torch.export, reload the artifact and check it.

torch.export.export traces the model into an ExportedProgram: a standalone graph with its
weights, no Python model class needed to run it. It is saved to a .pt2 file, loaded back and
run on fresh inputs; its outputs must match the trained model's.
Run it with:  python train_pytorch.py
"""
import sys
import tempfile
from pathlib import Path

import torch
from torch import nn

# Where to train: "cpu", "cuda", "mps" (Apple GPU) or "xpu" (Intel GPU).
DEVICE = "cpu"
STEPS = 200
LEARNING_RATE = 0.01


def device_available(name):
    checks = {
        "cpu": lambda: True,
        "cuda": torch.cuda.is_available,
        "mps": torch.backends.mps.is_available,
        "xpu": lambda: hasattr(torch, "xpu") and torch.xpu.is_available(),
    }
    return name in checks and checks[name]()


def make_blobs(n, generator):
    """Three Gaussian blobs in 4 dimensions, one per class."""
    centers = torch.tensor([[2.0, 0, 0, 1], [0, 2.0, 1, 0], [-1, -1, -2.0, 0]])
    y = torch.randint(0, 3, (n,), generator=generator)
    return centers[y] + torch.randn(n, 4, generator=generator), y


def main():
    if not device_available(DEVICE):
        sys.exit(f"error: PyTorch device {DEVICE!r} is not available on this machine")
    device = torch.device(DEVICE)
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    x, y = (t.to(device) for t in make_blobs(600, generator))

    model = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 3)).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    loss_fn = nn.CrossEntropyLoss()

    first_loss = None
    for step in range(1, STEPS + 1):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        if first_loss is None:
            first_loss = loss.item()
        if step % 50 == 0:
            print(f"step {step:4d}  loss {loss.item():.4f}")
    model.eval()

    # Export with a dynamic batch dimension, so the artifact accepts any number of rows.
    example = (x[:8],)
    batch = torch.export.Dim("batch")
    exported = torch.export.export(model, example, dynamic_shapes=({0: batch},))
    # For phones: ExecuTorch lowers this same ExportedProgram to a .pte file
    # (executorch.exir.to_edge(exported).to_executorch()), and coremltools.convert(exported)
    # makes a Core ML model for Apple devices. Both need extra packages, so they are not run here.

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "classifier.pt2"
        torch.export.save(exported, path)
        print(f"exported {path.name}: {path.stat().st_size} bytes")
        reloaded = torch.export.load(path).module()  # a callable graph module, no model class

    new_x, new_y = (t.to(device) for t in make_blobs(200, generator))
    with torch.no_grad():
        expected = model(new_x)
        served = reloaded(new_x)
        final_loss = loss_fn(served, new_y).item()
    max_diff = (served - expected).abs().max().item()
    if not torch.allclose(served, expected, atol=1e-5):
        sys.exit(f"error: the reloaded model's outputs differ by {max_diff}")
    accuracy = (served.argmax(dim=1) == new_y).float().mean().item()
    print(f"reloaded artifact matches the trained model (max difference {max_diff:.2e})")
    print(f"accuracy of the reloaded artifact on new data: {accuracy:.1%}")
    print(f"first_loss={first_loss:.6f}")
    print(f"final_loss={final_loss:.6f}")


if __name__ == "__main__":
    main()
