"""Fine-tune a pretrained NumPy network: load saved weights, freeze the body, train a new head.

There is no network here, so the "pretrained" model is made first: a small network is trained
(hand-written backprop) on a base task, which of 8 angular sectors a point lies in, and its
weights are saved with np.savez. Then the pattern used with downloaded weights: load them, keep
the body fixed, put a new head on top and train only the head on a new task (inner vs outer
ring) with few labelled examples. With a frozen body, only the head's gradients are needed.
Run it with:  python train_numpy.py
"""
import sys
import tempfile
from pathlib import Path

import numpy as np

# NumPy only runs on the CPU; the line is kept so every starter looks alike.
DEVICE = "cpu"
STEPS = 300
LEARNING_RATE = 0.5
HIDDEN = 64


def make_points(n, rng):
    """Points in two rings; labels for both tasks: angular sector (8 classes) and ring (2)."""
    angle, ring = rng.uniform(0, 2 * np.pi, n), rng.integers(0, 2, n)
    radius = 1.0 + ring + 0.15 * rng.normal(size=n)
    x = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    return x, np.minimum(angle / (2 * np.pi) * 8, 7).astype(int), ring


def features(body, x):
    return np.tanh(x @ body["w1"] + body["b1"])


def softmax_loss(logits, y):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = e / e.sum(axis=1, keepdims=True)
    loss = float(-np.mean(np.log(probs[np.arange(len(y)), y] + 1e-12)))
    d_logits = probs.copy()
    d_logits[np.arange(len(y)), y] -= 1  # softmax + cross-entropy: probs - one_hot(y)
    return loss, d_logits / len(y)


def train(body, head, x, y, train_body, label):
    losses = []
    for step in range(1, STEPS + 1):
        h = features(body, x)
        loss, d_logits = softmax_loss(h @ head["w"] + head["b"], y)
        grad_w, grad_b = h.T @ d_logits, d_logits.sum(0)
        if train_body:  # backprop into the body while pretraining; a frozen body needs none
            d_h = (d_logits @ head["w"].T) * (1 - h**2)  # chain rule through tanh
            body["w1"] -= LEARNING_RATE * (x.T @ d_h)
            body["b1"] -= LEARNING_RATE * d_h.sum(0)
        head["w"] -= LEARNING_RATE * grad_w
        head["b"] -= LEARNING_RATE * grad_b
        losses.append(loss)
        if step % 100 == 0:
            print(f"{label} step {step:4d}  loss {loss:.4f}")
    return losses


def new_head(n_out, rng):
    return {"w": rng.normal(0, 1 / np.sqrt(HIDDEN), (HIDDEN, n_out)), "b": np.zeros(n_out)}


def main():
    if DEVICE != "cpu":
        sys.exit(f"error: NumPy has no device {DEVICE!r}; it only runs on the CPU")
    rng = np.random.default_rng(0)

    with tempfile.TemporaryDirectory() as tmp:
        # 1. Stand-in for a model hub: pretrain on the base task, save the weights.
        x, sector, _ = make_points(2000, rng)
        body = {"w1": rng.normal(0, 1, (2, HIDDEN)), "b1": rng.normal(0, 1, HIDDEN)}
        train(body, new_head(8, rng), x, sector, train_body=True, label="pretrain")
        checkpoint = Path(tmp) / "base.npz"
        np.savez(checkpoint, **body)

        # 2. Fine-tuning. With real weights this step would be a download, e.g.
        #    path = huggingface_hub.hf_hub_download(repo_id, "model.safetensors")
        #    weights = safetensors.numpy.load_file(path)   # a dict of NumPy arrays
        with np.load(checkpoint, allow_pickle=False) as archive:
            body = {name: archive[name] for name in archive.files}
    frozen = {name: value.copy() for name, value in body.items()}
    head = new_head(2, rng)  # a fresh head for the new task's 2 classes

    x_new, _, ring = make_points(200, rng)  # few labelled examples
    losses = train(body, head, x_new, ring, train_body=False, label="fine-tune")
    print(f"body unchanged by fine-tuning: {all(np.array_equal(body[n], frozen[n]) for n in body)}")

    x_test, _, ring_test = make_points(1000, rng)
    accuracy = np.mean(np.argmax(features(body, x_test) @ head["w"] + head["b"], axis=1) == ring_test)
    print(f"new-task accuracy on held-out points: {accuracy:.1%}")
    print(f"first_loss={losses[0]:.6f}")
    print(f"final_loss={losses[-1]:.6f}")


if __name__ == "__main__":
    main()
