"""The NumPy references every benchmark's output is held to, and the checks that compare them.

Every benchmark checks the output of its last timed call against a NumPy reference (sampled where the full
reference would cost more than the benchmark). A wrong, non-finite or missing output raises ``CheckError``;
the suite records it under ``errors`` and gives no figure. NumPy is imported inside functions, after the
worker has timed the framework's import.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from typing import Any

# The MLP of the step benchmarks: 784-256-256-10, batch 128, plain SGD.
MLP_SIZES = (784, 256, 256, 10)
MLP_BATCH = 128
MLP_LR = 0.05


class CheckError(ValueError):
    """A benchmark's output did not match its reference (wrong, non-finite, or missing)."""


def _np():
    import numpy

    return numpy




def check_close(actual: Any, expected: Any, *, rtol: float, atol: float, what: str) -> bool:
    """Raise CheckError unless ``actual`` is finite and allclose to ``expected``."""
    np = _np()
    if actual is None:
        raise CheckError(f"{what}: no output")
    got = np.asarray(actual, dtype=np.float64)
    want = np.asarray(expected, dtype=np.float64)
    if got.shape != want.shape:
        raise CheckError(f"{what}: shape {got.shape}, expected {want.shape}")
    finite = np.isfinite(got)
    if not finite.all():
        raise CheckError(f"{what}: {int((~finite).sum())} of {got.size} values are not finite")
    excess = np.abs(got - want) - (atol + rtol * np.abs(want))
    if (excess > 0).any():
        worst = np.unravel_index(int(np.argmax(excess)), excess.shape)
        raise CheckError(f"{what}: {int((excess > 0).sum())} of {got.size} values differ from the NumPy "
                         f"reference; worst at {tuple(int(i) for i in worst)}: {got[worst]:.6g} vs "
                         f"{want[worst]:.6g} (rtol {rtol:g}, atol {atol:.3g})")
    return True


def round_to_bf16(array: Any) -> Any:
    """float32 values rounded (to nearest even) to ones bfloat16 represents exactly; still float32."""
    np = _np()
    bits = np.ascontiguousarray(array, dtype=np.float32).view(np.uint32)
    rounded = (bits + np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))) & np.uint32(0xFFFF0000)
    return rounded.view(np.float32)


# Relative tolerance by arithmetic precision; an absolute tolerance scales with the reduction length.
TOLERANCE = {"fp32": 1e-3, "tf32": 1e-2, "bf16": 3e-2, "fp16": 1e-2}


def tolerance(precision: str) -> float:
    return TOLERANCE.get(precision.split()[0], 3e-2)


def conv_reference_at(x: Any, w: Any, positions: Sequence[tuple[int, int, int]]) -> Any:
    """3x3 stride-1 SAME cross-correlation (NHWC x HWIO) at (image, row, column) positions, in float64."""
    np = _np()
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    w64 = w.astype(np.float64)
    patches = np.stack([padded[b, i:i + 3, j:j + 3, :] for b, i, j in positions]).astype(np.float64)
    return np.einsum("phwc,hwco->po", patches, w64)


def mlp_problem(seed: int = 0) -> tuple[list[Any], Any, Any]:
    """Initial parameters [W1, b1, W2, b2, W3, b3] (float32, He init), a batch x (128x784) and labels y (int32)."""
    np = _np()
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(MLP_SIZES[:-1], MLP_SIZES[1:]):
        params.append((rng.standard_normal((fan_in, fan_out), dtype=np.float32) * np.float32(math.sqrt(2 / fan_in))))
        params.append(np.zeros(fan_out, dtype=np.float32))
    x = rng.standard_normal((MLP_BATCH, MLP_SIZES[0]), dtype=np.float32)
    y = rng.integers(0, MLP_SIZES[-1], size=MLP_BATCH).astype(np.int32)
    return params, x, y


def mlp_numpy_step(params: list[Any], x: Any, y: Any, lr: float) -> Any:
    """One SGD step with a hand-written backward pass; updates ``params`` in place; returns the loss.

    Forward: relu(x W1 + b1) -> relu(. W2 + b2) -> . W3 + b3 -> mean softmax cross-entropy.
    """
    np = _np()
    w1, b1, w2, b2, w3, b3 = params
    z1 = x @ w1 + b1
    h1 = np.maximum(z1, 0)
    z2 = h1 @ w2 + b2
    h2 = np.maximum(z2, 0)
    logits = h2 @ w3 + b3
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    total = exp.sum(axis=1, keepdims=True)
    rows = np.arange(len(y))
    loss = float(np.mean(np.log(total[:, 0]) - shifted[rows, y]))
    dlogits = exp / total
    dlogits[rows, y] -= 1
    dlogits /= len(y)
    grads = [None] * 6
    grads[4] = h2.T @ dlogits
    grads[5] = dlogits.sum(axis=0)
    dz2 = (dlogits @ w3.T) * (z2 > 0)
    grads[2] = h1.T @ dz2
    grads[3] = dz2.sum(axis=0)
    dz1 = (dz2 @ w2.T) * (z1 > 0)
    grads[0] = x.T @ dz1
    grads[1] = dz1.sum(axis=0)
    for param, grad in zip(params, grads):
        param -= lr * grad
    return loss


def mlp_reference(params: list[Any], x: Any, y: Any, lr: float) -> tuple[float, list[Any]]:
    """The loss and the parameters after one step, in float64 (the reference every framework is held to)."""
    np = _np()
    digest = hashlib.sha1()
    for array in (*params, x, y):
        digest.update(np.ascontiguousarray(array).tobytes())
    key = (lr, digest.hexdigest())
    cached = _MLP_REFERENCES.get(key)
    if cached is not None:  # the eager and the compiled step check against the same reference
        return cached[0], [p.copy() for p in cached[1]]
    updated = [p.astype(np.float64) for p in params]
    loss = mlp_numpy_step(updated, x.astype(np.float64), y, lr)
    _MLP_REFERENCES[key] = (loss, [p.copy() for p in updated])
    return loss, updated


_MLP_REFERENCES: dict[tuple, tuple[float, list[Any]]] = {}


def check_mlp_step(before: list[Any], after: list[Any], loss: float, ref_loss: float, ref_after: list[Any],
                   what: str, precision: str = "fp32") -> None:
    """Compare one framework step with the reference: the loss, and each parameter's update (after - before).

    Tolerances widen with the matmul precision (TF32, bf16 passes) by the ratio of ``tolerance``s.
    """
    np = _np()
    widen = min(10.0, tolerance(precision) / TOLERANCE["fp32"])
    check_close(np.float64(loss), ref_loss, rtol=1e-3 * widen, atol=1e-4 * widen, what=f"{what} loss")
    names = ("W1", "b1", "W2", "b2", "W3", "b3")
    for name, old, new, ref in zip(names, before, after, ref_after):
        delta = np.asarray(new, dtype=np.float64) - old.astype(np.float64)
        ref_delta = ref - old.astype(np.float64)
        scale = float(np.abs(ref_delta).max()) or 1e-12
        check_close(delta, ref_delta, rtol=2e-2 * widen, atol=2e-3 * scale * widen, what=f"{what} update of {name}")
