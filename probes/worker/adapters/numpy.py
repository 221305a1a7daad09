"""NumPy's benchmarks: the CPU baseline. No autograd (the MLP step has a hand-written backward pass),
no compiler, no convolution, no accelerator."""

from __future__ import annotations

from typing import Any

from ..adapter import Adapter as BaseAdapter
from ..adapter import MlpStep, Settings, unused
from ..checks import mlp_numpy_step
from ..records import UnusedAccelerator


def load(settings: Settings) -> Any:
    import numpy

    return numpy


class Adapter(BaseAdapter):
    framework = "numpy"
    has_conv = False
    compiler = None
    no_bf16_reason = "NumPy has no bfloat16 dtype"

    def first_result(self) -> None:
        np = self.lib
        float((np.ones(8, dtype=np.float32) + 1).sum())

    def build(self) -> dict[str, Any]:
        np = self.lib
        info: dict[str, Any] = {"cuda": None, "rocm": None, "mps": False}
        try:
            config = np.show_config(mode="dicts")
            blas = config.get("Build Dependencies", {}).get("blas", {})
            info["blas"] = blas.get("name")
            info["blas_version"] = blas.get("version")
            simd = config.get("SIMD Extensions", {})
            info["simd_found"] = simd.get("found")
        except Exception:  # noqa: BLE001 - older NumPy: no dict mode
            pass
        return info

    def unused_accelerators(self, usable_kinds: set[str]) -> list[UnusedAccelerator]:
        return [unused(kind, "unsupported", "NumPy computes on the CPU only") for kind in self.settings.accelerators]

    def bf16_ok(self, device: str) -> bool:
        return False  # NumPy has no bfloat16 dtype

    def array(self, host: Any, device: str, dtype: str = "fp32") -> Any:
        return self.lib.ascontiguousarray(host, dtype=self.lib.float32)

    def matmul(self, device: str, dtype: str):
        return self.lib.matmul

    def add(self, device: str, b: Any, c: Any):
        np = self.lib
        out = np.zeros_like(b)
        return (lambda: np.add(b, c, out=out)), True

    def small_add(self, device: str, x: Any, y: Any):
        return lambda: x + y

    def mlp_eager(self, device: str, params: list[Any], x: Any, y: Any, lr: float) -> MlpStep:
        def step() -> float:
            return mlp_numpy_step(params, x, y, lr)

        return MlpStep(step=step, sync=lambda output: None, params=lambda: [p.copy() for p in params],
                       loss=float, api="hand-written forward and backward (NumPy has no autograd)")
