"""Train a small PyTorch MLP to separate two interleaved spirals.

The data is generated in memory with a fixed seed, so every run is the same.
Run it with:  python train_pytorch.py
"""
import sys

import torch
from torch import nn

# Where to train: "cpu", "cuda", "mps" (Apple GPU) or "xpu" (Intel GPU).
DEVICE = "cpu"
STEPS = 300
LEARNING_RATE = 0.01


def device_available(name):
    checks = {
        "cpu": lambda: True,
        "cuda": torch.cuda.is_available,
        "mps": torch.backends.mps.is_available,
        "xpu": lambda: hasattr(torch, "xpu") and torch.xpu.is_available(),
    }
    return name in checks and checks[name]()


def make_spirals(n_per_class, generator):
    """Two spirals, one per class, with a little noise."""
    t = torch.linspace(0.25, 3.0, n_per_class) * torch.pi
    spiral = torch.stack([t * torch.cos(t), t * torch.sin(t)], dim=1) / torch.pi
    x = torch.cat([spiral, -spiral])  # the second spiral is the first rotated 180 degrees
    x += 0.05 * torch.randn(x.shape, generator=generator)
    y = torch.cat([torch.zeros(n_per_class), torch.ones(n_per_class)]).long()
    return x, y


def main():
    if not device_available(DEVICE):
        sys.exit(f"error: PyTorch device {DEVICE!r} is not available on this machine")
    device = torch.device(DEVICE)
    torch.manual_seed(0)

    x, y = make_spirals(500, torch.Generator().manual_seed(0))
    x, y = x.to(device), y.to(device)

    model = nn.Sequential(
        nn.Linear(2, 64), nn.Tanh(),
        nn.Linear(64, 64), nn.Tanh(),
        nn.Linear(64, 2),
    ).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    loss_fn = nn.CrossEntropyLoss()

    first_loss = None
    for step in range(1, STEPS + 1):
        optimizer.zero_grad()  # gradients accumulate across backward() calls otherwise
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        if first_loss is None:
            first_loss = loss.item()
        if step % 50 == 0:
            print(f"step {step:4d}  loss {loss.item():.4f}")

    model.eval()
    with torch.no_grad():  # no gradients needed for evaluation
        logits = model(x)
        final_loss = loss_fn(logits, y).item()
        accuracy = (logits.argmax(dim=1) == y).float().mean().item()
    print(f"training accuracy: {accuracy:.1%}")
    print(f"first_loss={first_loss:.6f}")
    print(f"final_loss={final_loss:.6f}")


if __name__ == "__main__":
    main()
