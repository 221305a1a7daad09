"""MLX's benchmarks: Apple-silicon GPU (Metal), CUDA (Linux mlx[cuda] builds), CPU.

MLX is lazy: an op builds a graph and ``mx.eval`` computes it. Every timed call is followed by ``mx.eval``
of its output (and, for the training step, of the updated parameters), or the figures would time graph
building only. On Linux the ``mlx[cpu]`` wheel uses a reference BLAS, so its matmul/conv figures are far
below other frameworks': the size ladders keep those benchmarks within budget.

``mx.compile`` on the CPU generates C++ and compiles it into ``$TMPDIR/mlx``; the worker points TMPDIR at
a fresh directory, so the compile time recorded is cold.
"""

from __future__ import annotations

import sys
from typing import Any

from ..adapter import Adapter as BaseAdapter
from ..adapter import MlpStep, Settings, exception_text, seen, unused
from ..records import DeviceSeen, UnusedAccelerator


def load(settings: Settings) -> Any:
    import mlx.core

    return mlx.core


class Adapter(BaseAdapter):
    framework = "mlx"
    compiler = "mx.compile of the whole step"

    def __init__(self, lib: Any, settings: Settings):
        super().__init__(lib, settings)
        self._kinds: dict[str, Any] = {}

    def slow_compile(self, device: str) -> str | None:
        if device != "cpu":
            return None
        return "a cold mx.compile on the CPU generates C++ and builds it with the system compiler: ~4 s"

    def first_result(self) -> None:
        mx = self.lib
        result = mx.sum(mx.ones(8) + 1)
        mx.eval(result)
        float(result.item())

    def _metal(self) -> bool:
        metal = getattr(self.lib, "metal", None)
        return bool(metal and metal.is_available())

    def _cuda(self) -> bool:
        cuda = getattr(self.lib, "cuda", None)
        return bool(cuda and cuda.is_available())

    def build(self) -> dict[str, Any]:
        mx = self.lib
        info: dict[str, Any] = {"metal": self._metal(), "cuda": self._cuda() or None, "rocm": None,
                                "mps": False}
        try:
            info["device_info"] = {k: v for k, v in mx.device_info().items() if isinstance(v, (str, int, float))}
        except Exception:  # noqa: BLE001 - device_info is newer than some builds
            pass
        return info

    def devices(self) -> list[DeviceSeen]:
        mx = self.lib
        found = [seen("cpu", "cpu", True)]
        self._kinds["cpu"] = mx.cpu
        gpu_kind = "apple-gpu" if self._metal() else "cuda" if self._cuda() else None
        if gpu_kind:
            name = "gpu"
            try:
                with mx.stream(mx.gpu):
                    info = mx.device_info()
                name = str(info.get("device_name") or info.get("architecture") or "gpu")
            except Exception:  # noqa: BLE001
                pass
            usable, error = True, None
            try:
                value = mx.sum(mx.ones(4, stream=mx.gpu) + 1, stream=mx.gpu)
                mx.eval(value)
                usable = float(value.item()) == 8.0
            except Exception as exc:  # noqa: BLE001
                usable, error = False, exception_text(exc)
            if usable:
                self._kinds[gpu_kind] = mx.gpu
            found.append(seen(gpu_kind, name, usable, error=error))
        return found

    def unused_accelerators(self, usable_kinds: set[str]) -> list[UnusedAccelerator]:
        return [self._unused(kind) for kind in self.settings.accelerators if kind not in usable_kinds]

    def _unused(self, kind: str) -> UnusedAccelerator:
        if kind == "cuda":
            return unused(kind, "cpu-only-build", f"mlx {self.version()} here has no CUDA backend (the mlx[cpu] build)")
        if kind == "apple-gpu":
            if sys.platform == "darwin":
                return unused(kind, "unsupported", "Metal is not available to MLX (needs Apple silicon, macOS 14+ "
                                                   "and a native arm64 Python)")
            return unused(kind, "unsupported", "Apple GPUs are reached from macOS only")
        return unused(kind, "unsupported", f"MLX has no {kind} backend")

    # --- data and sync
    def _device(self, device: str) -> Any:
        return self._kinds[device]

    def array(self, host: Any, device: str, dtype: str = "fp32") -> Any:
        mx = self.lib
        value = mx.array(host)
        if dtype == "bf16":
            value = value.astype(mx.bfloat16, stream=self._device(device))
        mx.eval(value)
        return value

    def to_numpy(self, value: Any) -> Any:
        import numpy as np

        mx = self.lib
        if value.dtype != mx.float32:
            value = value.astype(mx.float32)
        return np.array(value)

    def sync_for(self, device: str):
        return self.lib.eval

    # --- operations
    def matmul(self, device: str, dtype: str):
        mx = self.lib
        stream = self._device(device)
        return lambda a, b: mx.matmul(a, b, stream=stream)

    def conv2d(self, device: str, x: Any, w: Any):
        mx = self.lib
        stream = self._device(device)
        dx = self.array(x, device)
        dw = self.array(w.transpose(3, 0, 1, 2).copy(), device)  # MLX weights are (out, kh, kw, in)
        return (lambda: mx.conv2d(dx, dw, padding=1, stream=stream)), self.to_numpy, "NHWC"

    def add(self, device: str, b: Any, c: Any):
        mx = self.lib
        stream = self._device(device)
        db, dc = self.array(b, device), self.array(c, device)
        return (lambda: mx.add(db, dc, stream=stream)), False

    def small_add(self, device: str, x: Any, y: Any):
        mx = self.lib
        stream = self._device(device)
        dx, dy = self.array(x, device), self.array(y, device)
        return lambda: mx.add(dx, dy, stream=stream)

    def mlp(self, device: str, params: list[Any], x: Any, y: Any, lr: float, compiled: bool) -> MlpStep:
        mx = self.lib
        mx.set_default_device(self._device(device))  # the step's ops and its grads run on this device

        def loss_fn(weights, inputs, labels):
            w1, b1, w2, b2, w3, b3 = weights
            h = mx.maximum(inputs @ w1 + b1, 0)
            h = mx.maximum(h @ w2 + b2, 0)
            logits = h @ w3 + b3
            picked = mx.take_along_axis(logits, labels[:, None], axis=1)[:, 0]
            return mx.mean(mx.logsumexp(logits, axis=1) - picked)

        grad_fn = mx.value_and_grad(loss_fn)

        def train_step(weights, inputs, labels):
            loss, grads = grad_fn(weights, inputs, labels)
            return loss, [w - lr * g for w, g in zip(weights, grads)]

        step_fn = mx.compile(train_step) if compiled else train_step
        state = {"params": [self.array(p, device) for p in params]}
        dx, dy = self.array(x, device), mx.array(y)

        def step():
            loss, state["params"] = step_fn(state["params"], dx, dy)
            return loss, state["params"]

        import numpy as np

        def current() -> list[Any]:
            mx.eval(state["params"])
            return [np.array(p) for p in state["params"]]

        api = "mx.compile(value_and_grad + SGD update)" if compiled else "mx.value_and_grad + SGD update, mx.eval"
        return MlpStep(step=step, sync=mx.eval, params=current, loss=lambda output: float(output[0].item()),
                              api=api)


    def h2d(self, device: str, host: Any):
        return None  # MLX arrays live in unified (Apple) or managed (CUDA build) memory: no explicit copy to time
