"""JAX's benchmarks: CPU, CUDA or ROCm GPUs, TPUs.

Array ops are jitted functions (matmul, conv, add) or eager ops (the 64-element add; the eager MLP step is
``jax.value_and_grad`` without ``jax.jit``, so every primitive is dispatched on its own). The compiled step
is ``jax.jit`` of the whole step. Every output is waited for with ``jax.block_until_ready``: JAX dispatches
asynchronously, and without it a benchmark would time the dispatch only.

Matmul precision: JAX's default (``jax_default_matmul_precision`` unset) runs float32 matmuls and convs as
TF32 on NVIDIA Ampere and later and as one bfloat16 pass on TPUs; the precision recorded with each figure
says which applied.
"""

from __future__ import annotations

import functools
from importlib import metadata
from typing import Any

from ..adapter import Adapter as BaseAdapter
from ..adapter import MlpStep, Settings, classify_device_error, exception_text, hidden_gpus, seen, unused
from ..records import DeviceSeen, UnusedAccelerator


def load(settings: Settings) -> Any:
    import jax
    import jax.numpy  # noqa: F401 - part of what a user's `import jax.numpy as jnp` costs

    return jax


@functools.cache
def _plugins() -> dict[str, list[str]]:
    """JAX's accelerator plugins installed here, by kind (read from metadata once, never imported)."""
    prefixes = {"cuda": "jax-cuda", "rocm": "jax-rocm", "tpu": "libtpu"}
    found: dict[str, set[str]] = {kind: set() for kind in prefixes}
    for dist in metadata.distributions():
        name = (dist.metadata.get("Name") or "").lower().replace("_", "-")
        for kind, prefix in prefixes.items():
            if name.startswith(prefix):
                found[kind].add(f"{name} {dist.version}")
    return {kind: sorted(names) for kind, names in found.items()}


def _distribution_version(name: str) -> str | None:
    """An installed distribution's version from its metadata (the worker imports nothing of the advisor)."""
    try:
        return metadata.version(name) or None
    except (metadata.PackageNotFoundError, OSError):
        return None



class Adapter(BaseAdapter):
    framework = "jax"
    compiler = "jax.jit (XLA) of the whole step"

    def __init__(self, lib: Any, settings: Settings):
        super().__init__(lib, settings)
        import jax.numpy as jnp
        from jax import lax

        self.jnp = jnp
        self.lax = lax
        self._devices: dict[str, Any] = {}
        self._backend_errors: dict[str, str] = {}

    def first_result(self) -> None:
        jnp = self.jnp
        float((jnp.ones(8, dtype=jnp.float32) + 1).sum().block_until_ready())

    def build(self) -> dict[str, Any]:
        jax = self.lib
        cuda, rocm, tpu = _plugins()["cuda"], _plugins()["rocm"], _plugins()["tpu"]
        return {"jaxlib": _distribution_version("jaxlib"), "cuda": cuda[0] if cuda else None,
                "rocm": rocm[0] if rocm else None,
                "tpu": tpu[0] if tpu else None, "mps": False, "default_backend": jax.default_backend(),
                "default_matmul_precision": jax.config.jax_default_matmul_precision or "default"}

    def devices(self) -> list[DeviceSeen]:
        jax = self.lib
        cpu = jax.devices("cpu")[0]
        self._devices["cpu"] = cpu
        found = [seen("cpu", cpu.device_kind, True)]
        platforms = ["cuda", "rocm"]
        if "tpu" in self.settings.accelerators or jax.default_backend() == "tpu":
            platforms.append("tpu")  # probing for a TPU loads libtpu: only where one may be present
        for platform in platforms:
            try:
                listed = jax.devices(platform)
            except RuntimeError as exc:
                self._backend_errors[platform] = str(exc)
                continue
            for index, device in enumerate(listed):
                capability = getattr(device, "compute_capability", None)
                usable, error = True, None
                if index == 0:
                    try:
                        value = float(jax.device_put(self.jnp.ones(4), device).sum().block_until_ready())
                        usable = value == 4.0
                    except Exception as exc:  # noqa: BLE001
                        usable, error = False, exception_text(exc)
                        self._backend_errors[platform] = error
                    if usable:
                        self._devices[platform] = device
                found.append(seen(platform, device.device_kind, usable, index=index,
                                  compute_capability=str(capability) if capability else None, error=error))
        return found

    def unused_accelerators(self, usable_kinds: set[str]) -> list[UnusedAccelerator]:
        return [self._unused(kind) for kind in self.settings.accelerators if kind not in usable_kinds]

    def _unused(self, kind: str) -> UnusedAccelerator:
        plugins = _plugins()
        if kind in plugins:
            if not plugins[kind]:
                package = {"cuda": "jax-cuda12/13-plugin", "rocm": "a jax-rocm plugin", "tpu": "libtpu"}[kind]
                return unused(kind, "cpu-only-build", f"jax {self.version()} without {package}: CPU only")
            hidden = hidden_gpus(kind)
            if hidden is not None:
                return hidden
            message = self._backend_errors.get(kind, f"{', '.join(plugins[kind])} installed, but JAX "
                                                     f"sees no {kind} device")
            return unused(kind, classify_device_error(message), message[:500])
        if kind == "apple-gpu":
            return unused(kind, "unsupported", "JAX runs on the CPU on Macs (jax-metal is experimental and "
                                               "unmaintained)")
        return unused(kind, "unsupported", f"JAX has no {kind} backend")

    # --- data and sync
    def array(self, host: Any, device: str, dtype: str = "fp32") -> Any:
        jax = self.lib
        value = host.astype(self.jnp.bfloat16) if dtype == "bf16" else host
        return jax.block_until_ready(jax.device_put(value, self._devices[device]))

    def to_numpy(self, value: Any) -> Any:
        import numpy as np

        return np.asarray(self.lib.device_get(value)).astype(np.float32)

    def sync_for(self, device: str):
        return self.lib.block_until_ready

    def matmul_precision(self, device: str, dtype: str) -> tuple[str, dict[str, Any]]:
        jax = self.lib
        setting = jax.config.jax_default_matmul_precision or "default"
        used = {"matmul_precision_setting": setting}
        if dtype != "fp32" or setting in ("highest", "float32"):
            return dtype, used
        if device == "tpu":
            return "bf16 (one bf16 pass: JAX's default precision on TPU)", used
        if device == "cuda":
            capability = getattr(self._devices.get("cuda"), "compute_capability", None)
            try:
                major = int(str(capability).split(".")[0])
            except ValueError:
                major = 0
            if major >= 8:
                return "tf32 (JAX's default precision on Ampere and later)", used
        return "fp32", used

    # --- operations
    def matmul(self, device: str, dtype: str):
        return self.lib.jit(self.jnp.matmul)

    def conv2d(self, device: str, x: Any, w: Any):
        jax, lax = self.lib, self.lax
        conv = jax.jit(lambda inputs, kernel: lax.conv_general_dilated(
            inputs, kernel, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")))
        dx, dw = self.array(x, device), self.array(w, device)
        return (lambda: conv(dx, dw)), self.to_numpy, "NHWC"

    def add(self, device: str, b: Any, c: Any):
        """a = b + c into a donated buffer: JAX's way to reuse an output instead of allocating one per call."""
        jax = self.lib
        # keep_unused: otherwise jit prunes the unused `out` argument and its donation with it.
        add = jax.jit(lambda out, left, right: left + right, donate_argnums=0, keep_unused=True)
        db, dc = self.array(b, device), self.array(c, device)
        state = {"out": jax.block_until_ready(jax.device_put(self.jnp.zeros(b.shape, b.dtype),
                                                             self._devices[device]))}

        def run():
            state["out"] = add(state["out"], db, dc)
            return state["out"]

        jax.block_until_ready(run())
        before = _pointer(state["out"])
        jax.block_until_ready(run())
        reused = before is not None and before == _pointer(state["out"])  # donation honoured?
        return run, reused

    def small_add(self, device: str, x: Any, y: Any):
        dx, dy = self.array(x, device), self.array(y, device)
        return lambda: dx + dy  # an eager op: JAX's per-op dispatch

    def _loss_fn(self):
        jax, jnp = self.lib, self.jnp

        def loss_fn(params, inputs, labels):
            w1, b1, w2, b2, w3, b3 = params
            h = jax.nn.relu(inputs @ w1 + b1)
            h = jax.nn.relu(h @ w2 + b2)
            logp = jax.nn.log_softmax(h @ w3 + b3, axis=1)
            return -jnp.mean(jnp.take_along_axis(logp, labels[:, None], axis=1))

        return loss_fn

    def mlp(self, device: str, params: list[Any], x: Any, y: Any, lr: float, compiled: bool) -> MlpStep:
        jax = self.lib
        grad_fn = jax.value_and_grad(self._loss_fn())

        def train_step(weights, inputs, labels):
            loss, grads = grad_fn(weights, inputs, labels)
            return loss, [w - lr * g for w, g in zip(weights, grads)]

        step_fn = jax.jit(train_step) if compiled else train_step
        state = {"params": [self.array(p, device) for p in params]}
        dx, dy = self.array(x, device), jax.device_put(y, self._devices[device])

        def step():
            loss, state["params"] = step_fn(state["params"], dx, dy)
            return loss, state["params"]

        import numpy as np

        api = "jax.jit(value_and_grad + SGD update)" if compiled else "jax.value_and_grad without jit (op by op)"
        return MlpStep(step=step, sync=jax.block_until_ready, api=api,
                              params=lambda: [np.asarray(p).copy() for p in state["params"]],
                              loss=lambda output: float(output[0]))


    def h2d(self, device: str, host: Any):
        jax = self.lib
        target = self._devices[device]
        return lambda: jax.device_put(host, target)


def _pointer(array: Any) -> int | None:
    try:
        return int(array.unsafe_buffer_pointer())
    except Exception:  # noqa: BLE001 - sharded or remote arrays have no single pointer
        return None
