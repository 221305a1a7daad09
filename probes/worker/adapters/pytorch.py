"""PyTorch's benchmarks: CPU, CUDA or ROCm (both "cuda" to torch), Apple's MPS, Intel's XPU.

Eager ops; the MLP step is autograd plus an in-place SGD update (torch.optim would import torch._dynamo,
~2.5 s, on first use), and its compiled variant wraps the forward and loss in torch.compile (Inductor;
AOTAutograd compiles the backward too). Accelerator work is synced with the
backend's synchronize() before each clock read.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

from ..adapter import Adapter as BaseAdapter
from ..adapter import MlpStep, Settings, classify_device_error, exception_text, hidden_gpus, seen, unused
from ..records import DeviceSeen, UnusedAccelerator

TORCH_DEVICE = {"cpu": "cpu", "cuda": "cuda", "rocm": "cuda", "apple-gpu": "mps", "intel-xpu": "xpu"}


def load(settings: Settings) -> Any:
    import torch

    return torch



class Adapter(BaseAdapter):
    framework = "pytorch"
    compiler = "torch.compile (inductor) of the forward; AOTAutograd compiles the backward"

    def __init__(self, lib: Any, settings: Settings):
        super().__init__(lib, settings)
        torch = lib
        torch.set_num_threads(settings.threads)
        try:
            torch.set_num_interop_threads(settings.threads)
        except RuntimeError:  # only settable before any inter-op work
            pass
        self._probe_errors: dict[str, str] = {}

    def slow_compile(self, device: str) -> str | None:
        return ("a cold torch.compile generates and builds C++ (CPU) or Triton (GPU) kernels: 15-35 s on a "
                "2-core CPU")

    def first_result(self) -> None:
        torch = self.lib
        float((torch.ones(8) + 1).sum().item())

    def build(self) -> dict[str, Any]:
        torch = self.lib
        xpu_built = bool(getattr(torch, "xpu", None)) and bool(getattr(torch.xpu, "_is_compiled", lambda: False)())
        return {"cuda": torch.version.cuda, "rocm": getattr(torch.version, "hip", None),
                "mps": bool(torch.backends.mps.is_built()), "xpu": xpu_built,
                "mkldnn": bool(torch.backends.mkldnn.is_available()),
                "openmp": bool(torch.backends.openmp.is_available()),
                "float32_matmul_precision": torch.get_float32_matmul_precision()}

    def _try_device(self, kind: str) -> tuple[bool, str | None]:
        torch = self.lib
        try:
            value = (torch.ones(4, device=TORCH_DEVICE[kind]) + 1).sum().item()
            return value == 8.0, None if value == 8.0 else f"a test op returned {value}, not 8"
        except Exception as exc:  # noqa: BLE001
            return False, exception_text(exc)

    def devices(self) -> list[DeviceSeen]:
        torch = self.lib
        found = [seen("cpu", "cpu", True)]
        if torch.cuda.is_available():
            kind = "rocm" if getattr(torch.version, "hip", None) else "cuda"
            ok, error = self._try_device(kind)
            for index in range(torch.cuda.device_count()):
                capability = None
                if index == 0 and torch.version.cuda and ok:
                    major, minor = torch.cuda.get_device_capability(0)
                    capability = f"{major}.{minor}"
                if error:
                    error = self._missing_arch(index) or error
                    self._probe_errors[kind] = error
                found.append(seen(kind, torch.cuda.get_device_name(index), ok, index=index,
                                  compute_capability=capability, error=error))
        if torch.backends.mps.is_available():
            ok, error = self._try_device("apple-gpu")
            found.append(seen("apple-gpu", "mps", ok, error=error))
            if error:
                self._probe_errors["apple-gpu"] = error
        xpu = getattr(torch, "xpu", None)
        if xpu is not None and xpu.is_available():
            ok, error = self._try_device("intel-xpu")
            found.append(seen("intel-xpu", xpu.get_device_name(0), ok, error=error))
        return found

    def unused_accelerators(self, usable_kinds: set[str]) -> list[UnusedAccelerator]:
        return [self._unused(kind) for kind in self.settings.accelerators if kind not in usable_kinds]

    def _unused(self, kind: str) -> UnusedAccelerator:
        torch = self.lib
        version = torch.__version__
        if kind in ("cuda", "rocm"):
            built = torch.version.cuda if kind == "cuda" else getattr(torch.version, "hip", None)
            other = getattr(torch.version, "hip", None) if kind == "cuda" else torch.version.cuda
            if not built:
                label = {"cuda": "CUDA", "rocm": "ROCm"}
                if other:
                    return unused(kind, "unsupported",
                                  f"torch {version} is a {label['rocm' if kind == 'cuda' else 'cuda']} build")
                return unused(kind, "cpu-only-build", f"torch {version} has no {label[kind]} support")
            hidden = hidden_gpus(kind)
            if hidden is not None:
                return hidden
            message = self._probe_errors.get(kind) or self._cuda_init_error()
            return unused(kind, classify_device_error(message or ""),
                          message or f"torch {version} ({kind} build) sees no usable GPU")
        if kind == "apple-gpu":
            if sys.platform != "darwin":
                return unused(kind, "unsupported", "Apple GPUs are reached from macOS only")
            if not torch.backends.mps.is_built():
                return unused(kind, "cpu-only-build", f"torch {version} was built without MPS")
            return unused(kind, "unsupported", self._probe_errors.get(
                "apple-gpu", "MPS is built but not available (needs macOS 12.3+ on Apple silicon, native arm64)"))
        if kind == "intel-xpu":
            return unused(kind, "cpu-only-build", f"torch {version} has no XPU support")
        if kind == "gaudi":  # Gaudi is Intel's own PyTorch stack (habana_frameworks.torch, device "hpu")
            if importlib.util.find_spec("habana_frameworks") is None:
                return unused(kind, "cpu-only-build", f"torch {version} without Intel Gaudi's PyTorch bridge "
                                                      "(habana_frameworks.torch)")
            return unused(kind, "unsupported", "Intel Gaudi's PyTorch bridge is installed, but the probe does not "
                                               "measure Gaudi (HPU) devices")
        return unused(kind, "unsupported", "PyTorch reaches TPUs only through PyTorch/XLA (torch_xla)")

    def _missing_arch(self, index: int) -> str | None:
        """Why a CUDA build cannot run on GPU ``index`` when its architecture is not among the build's kernels
        (the wheel's arch list; PTX for an older one still JIT-compiles, so only then is it missing)."""
        torch = self.lib
        try:
            major, minor = torch.cuda.get_device_capability(index)
            built = [name for name in torch.cuda.get_arch_list() if name.startswith(("sm_", "compute_"))]
        except Exception:  # noqa: BLE001
            return None
        number = major * 10 + minor
        def arch_number(name: str) -> int:
            digits = "".join(ch for ch in name.split("_", 1)[1] if ch.isdigit())
            return int(digits or 0)
        if not built or f"sm_{number}" in built or any(
                name.startswith("compute_") and arch_number(name) <= number for name in built):
            return None
        return (f"no kernel image for this GPU: it is sm_{number} (compute capability {major}.{minor}); torch "
                f"{torch.__version__} has kernels for {', '.join(built)}")

    def _cuda_init_error(self) -> str | None:
        try:
            self.lib.cuda.init()
        except Exception as exc:  # noqa: BLE001
            return exception_text(exc)
        return None

    # --- data and sync
    def _device(self, device: str) -> str:
        return TORCH_DEVICE[device]

    def array(self, host: Any, device: str, dtype: str = "fp32") -> Any:
        torch = self.lib
        tensor = torch.from_numpy(host.copy()).to(self._device(device))
        return tensor.to(torch.bfloat16) if dtype == "bf16" else tensor

    def to_numpy(self, value: Any) -> Any:
        return value.detach().float().cpu().numpy()

    def sync_for(self, device: str):
        torch = self.lib
        if device in ("cuda", "rocm"):
            return lambda output: torch.cuda.synchronize()
        if device == "apple-gpu":
            return lambda output: torch.mps.synchronize()
        if device == "intel-xpu":
            return lambda output: torch.xpu.synchronize()
        return lambda output: None  # CPU ops finish before they return

    def _tf32_capable(self, device: str) -> bool:
        torch = self.lib
        if device != "cuda" or not torch.version.cuda:
            return False
        try:
            return torch.cuda.get_device_capability(0)[0] >= 8  # TF32 tensor cores: Ampere and later
        except Exception:  # noqa: BLE001
            return False

    def matmul_precision(self, device: str, dtype: str) -> tuple[str, dict[str, Any]]:
        torch = self.lib
        setting = torch.get_float32_matmul_precision()
        if dtype != "fp32":
            return dtype, {}
        if self._tf32_capable(device) and setting != "highest":
            return "tf32", {"float32_matmul_precision": setting}
        return "fp32", {"float32_matmul_precision": setting}

    def conv_precision(self, device: str) -> tuple[str, dict[str, Any]]:
        torch = self.lib
        allowed = bool(torch.backends.cudnn.allow_tf32)
        if self._tf32_capable(device) and allowed:
            return "tf32 (torch.backends.cudnn.allow_tf32 is on by default)", {"cudnn_allow_tf32": True}
        return "fp32", {"cudnn_allow_tf32": allowed} if device == "cuda" else {}

    # --- operations
    def matmul(self, device: str, dtype: str):
        return self.lib.matmul

    def conv2d(self, device: str, x: Any, w: Any):
        torch = self.lib
        dev = self._device(device)
        xt = torch.from_numpy(x.transpose(0, 3, 1, 2).copy()).to(dev)  # NCHW, torch's native layout
        wt = torch.from_numpy(w.transpose(3, 2, 0, 1).copy()).to(dev)  # OIHW
        conv = torch.nn.functional.conv2d

        def run():
            with torch.no_grad():
                return conv(xt, wt, padding=1)

        return run, lambda out: out.permute(0, 2, 3, 1).float().cpu().numpy(), "NCHW"

    def add(self, device: str, b: Any, c: Any):
        torch = self.lib
        dev = self._device(device)
        tb, tc = torch.from_numpy(b).to(dev), torch.from_numpy(c).to(dev)
        out = torch.zeros_like(tb)
        return (lambda: torch.add(tb, tc, out=out)), True

    def small_add(self, device: str, x: Any, y: Any):
        torch = self.lib
        dev = self._device(device)
        tx, ty = torch.from_numpy(x.copy()).to(dev), torch.from_numpy(y.copy()).to(dev)
        return lambda: tx + ty

    def mlp(self, device: str, params: list[Any], x: Any, y: Any, lr: float, compiled: bool) -> MlpStep:
        torch = self.lib
        dev = self._device(device)
        weights = [torch.tensor(p, device=dev, requires_grad=True) for p in params]
        tx = torch.from_numpy(x).to(dev)
        ty = torch.from_numpy(y.astype("int64")).to(dev)
        cross_entropy = torch.nn.functional.cross_entropy

        def loss_fn(inputs, labels):
            w1, b1, w2, b2, w3, b3 = weights
            h = torch.relu(inputs @ w1 + b1)
            h = torch.relu(h @ w2 + b2)
            return cross_entropy(h @ w3 + b3, labels)

        forward = torch.compile(loss_fn) if compiled else loss_fn

        def step():
            loss = forward(tx, ty)
            loss.backward()
            with torch.no_grad():  # plain SGD; torch.optim's first use imports torch._dynamo (~2.5 s)
                for weight in weights:
                    weight.sub_(weight.grad, alpha=lr)
                    weight.grad = None
            return loss

        sync = self.sync_for(device)
        api = ("torch.compile(loss_fn) + loss.backward() + in-place SGD update" if compiled
               else "autograd (loss.backward()) + in-place SGD update")
        return MlpStep(step=step, sync=sync, api=api,
                              params=lambda: [w.detach().cpu().numpy().copy() for w in weights],
                              loss=lambda loss: float(loss.item()))


    def h2d(self, device: str, host: Any):
        torch = self.lib
        if device == "apple-gpu":
            return None  # unified memory
        source = torch.from_numpy(host)
        dev = self._device(device)
        return lambda: source.to(dev)
