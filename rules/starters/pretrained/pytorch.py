"""Fine-tune a pretrained PyTorch model: load a checkpoint, freeze the body, train a new head.

There is no network here, so the "pretrained" model is made first: a small network is trained
on a base task (which of 8 angular sectors a point lies in) and its state_dict is saved to a
checkpoint file. Then the pattern used with downloaded weights: load the checkpoint into a fresh
model, freeze the body, replace the head, and fine-tune only the head on a new task (inner vs
outer ring), with few labelled examples.
Run it with:  python train_pytorch.py
"""
import sys
import tempfile
from pathlib import Path

import torch
from torch import nn

# Where to train: "cpu", "cuda", "mps" (Apple GPU) or "xpu" (Intel GPU).
DEVICE = "cpu"
LEARNING_RATE = 0.01


def device_available(name):
    checks = {
        "cpu": lambda: True,
        "cuda": torch.cuda.is_available,
        "mps": torch.backends.mps.is_available,
        "xpu": lambda: hasattr(torch, "xpu") and torch.xpu.is_available(),
    }
    return name in checks and checks[name]()


class Net(nn.Module):
    def __init__(self, n_classes):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU())
        self.head = nn.Linear(64, n_classes)

    def forward(self, x):
        return self.head(self.body(x))


def make_points(n, generator):
    """Points in two rings; labels for both tasks: angular sector (8 classes) and ring (2)."""
    angle = torch.rand(n, generator=generator) * 2 * torch.pi
    ring = torch.randint(0, 2, (n,), generator=generator)
    radius = 1.0 + ring + 0.15 * torch.randn(n, generator=generator)
    x = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=1)
    sector = (angle / (2 * torch.pi) * 8).long().clamp(max=7)
    return x, sector, ring


def train(model, params, x, y, steps, label):
    optimizer = torch.optim.Adam(params, lr=LEARNING_RATE)  # only the parameters given
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    for step in range(1, steps + 1):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if step % 50 == 0:
            print(f"{label} step {step:4d}  loss {loss.item():.4f}")
    return losses


def main():
    if not device_available(DEVICE):
        sys.exit(f"error: PyTorch device {DEVICE!r} is not available on this machine")
    device = torch.device(DEVICE)
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)

    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = Path(tmp) / "base.pt"
        # 1. Stand-in for a model hub: pretrain on the base task, save the weights.
        x, sector, _ = (t.to(device) for t in make_points(2000, generator))
        base = Net(n_classes=8).to(device)
        train(base, base.parameters(), x, sector, steps=150, label="pretrain")
        torch.save(base.state_dict(), checkpoint)

        # 2. Fine-tuning. With real weights this step would be a download, e.g.
        #    model = torchvision.models.resnet18(weights=torchvision.models.ResNet18_Weights.DEFAULT)
        #    model.fc = nn.Linear(model.fc.in_features, n_classes)   # new head
        #    or transformers.AutoModel.from_pretrained("bert-base-uncased")
        model = Net(n_classes=8).to(device)
        model.load_state_dict(torch.load(checkpoint, map_location=device, weights_only=True))
    model.body.requires_grad_(False)  # freeze: no gradients, no updates for the body
    model.head = nn.Linear(64, 2).to(device)  # a fresh head for the new task's 2 classes

    x_new, _, ring = (t.to(device) for t in make_points(200, generator))  # few labelled examples
    trainable = [p for p in model.parameters() if p.requires_grad]
    print(f"trainable parameters: {sum(p.numel() for p in trainable)} of "
          f"{sum(p.numel() for p in model.parameters())}")
    losses = train(model, trainable, x_new, ring, steps=150, label="fine-tune")

    x_test, _, ring_test = (t.to(device) for t in make_points(1000, generator))
    with torch.no_grad():
        accuracy = (model(x_test).argmax(dim=1) == ring_test).float().mean().item()
    print(f"new-task accuracy on held-out points: {accuracy:.1%}")
    print(f"first_loss={losses[0]:.6f}")
    print(f"final_loss={losses[-1]:.6f}")


if __name__ == "__main__":
    main()
