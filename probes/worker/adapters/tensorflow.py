"""TensorFlow's benchmarks: CPU, CUDA GPUs, Apple GPUs through tensorflow-metal.

Plain TensorFlow ops (Keras is not imported: its import would add seconds that a model-free microbenchmark
does not need). The eager step is a GradientTape with ``Variable.assign_sub``; the compiled step is the same
function under ``tf.function(jit_compile=True)`` (XLA). Thread pools are set with ``tf.config.threading``
before the first op. Syncing: eager CPU execution is synchronous; on accelerators every timed call ends with
``tf.test.experimental.sync_devices()``, and small outputs are fetched with ``.numpy()``.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from ..adapter import Adapter as BaseAdapter
from ..adapter import MlpStep, Settings, exception_text, hidden_gpus, seen, unused
from ..records import DeviceSeen, UnusedAccelerator

SMALL = 4096  # outputs up to this many elements are synced by fetching them


def load(settings: Settings) -> Any:
    import tensorflow

    return tensorflow


class Adapter(BaseAdapter):
    framework = "tensorflow"
    compiler = "tf.function(jit_compile=True) (XLA) of the whole step"

    def __init__(self, lib: Any, settings: Settings):
        super().__init__(lib, settings)
        tf = lib
        tf.config.threading.set_intra_op_parallelism_threads(settings.threads)
        tf.config.threading.set_inter_op_parallelism_threads(settings.threads)
        self._gpus = tf.config.list_physical_devices("GPU")
        for gpu in self._gpus:
            try:
                tf.config.experimental.set_memory_growth(gpu, True)  # do not grab all GPU memory
            except (RuntimeError, ValueError):
                pass
        self._names: dict[str, str] = {"cpu": "/CPU:0"}

    def first_result(self) -> None:
        tf = self.lib
        float(tf.reduce_sum(tf.ones(8) + 1).numpy())

    def _gpu_kind(self) -> str:
        if sys.platform == "darwin":
            return "apple-gpu"
        return "rocm" if self.lib.test.is_built_with_rocm() else "cuda"

    def build(self) -> dict[str, Any]:
        tf = self.lib
        info = dict(tf.sysconfig.get_build_info())
        return {"cuda": info.get("cuda_version") if info.get("is_cuda_build") else None,
                "cudnn": info.get("cudnn_version"), "rocm": bool(info.get("is_rocm_build")) or None,
                "mps": False, "xla": True, "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default")}

    def devices(self) -> list[DeviceSeen]:
        tf = self.lib
        found = [seen("cpu", "cpu", True)]
        kind = self._gpu_kind()
        for index, gpu in enumerate(self._gpus):
            try:
                details = tf.config.experimental.get_device_details(gpu)
            except Exception:  # noqa: BLE001
                details = {}
            capability = details.get("compute_capability")
            usable, error = True, None
            if index == 0:
                try:
                    with tf.device("/GPU:0"):
                        value = float(tf.reduce_sum(tf.ones(4) + 1).numpy())
                    usable = value == 8.0
                except Exception as exc:  # noqa: BLE001
                    usable, error = False, exception_text(exc)
                if usable:
                    self._names[kind] = "/GPU:0"
            found.append(seen(kind, str(details.get("device_name", gpu.name)), usable, index=index,
                              compute_capability=(".".join(map(str, capability)) if isinstance(capability, tuple)
                                                  else str(capability)) if capability else None, error=error))
        for index, tpu in enumerate(tf.config.list_physical_devices("TPU")):
            found.append(seen("tpu", tpu.name, False, index=index, note="TPUs need a TPUStrategy; not benchmarked"))
        return found

    def unused_accelerators(self, usable_kinds: set[str]) -> list[UnusedAccelerator]:
        return [self._unused(kind) for kind in self.settings.accelerators if kind not in usable_kinds]

    def _unused(self, kind: str) -> UnusedAccelerator:
        tf = self.lib
        if kind == "cuda":
            if sys.platform == "win32":
                return unused(kind, "unsupported", "no native GPU support on Windows after TF 2.10")
            if not tf.test.is_built_with_cuda():
                return unused(kind, "cpu-only-build", f"tensorflow {self.version()} is built without CUDA")
            hidden = hidden_gpus(kind)
            if hidden is not None:
                return hidden
            return unused(kind, "not-visible", "the CUDA build of TensorFlow lists no GPU: the driver or the CUDA "
                                               "libraries it needs are missing or too old")
        if kind == "apple-gpu":
            return unused(kind, "cpu-only-build", "no tensorflow-metal plugin: TensorFlow uses the CPU")
        if kind == "rocm":
            return unused(kind, "cpu-only-build" if not tf.test.is_built_with_rocm() else "not-visible",
                          "upstream TensorFlow has no ROCm support; AMD publishes tensorflow-rocm")
        if kind == "tpu":
            return unused(kind, "unsupported", "TensorFlow reaches TPUs through TPUStrategy and a TPU runtime; this "
                                               "probe does not set one up")
        return unused(kind, "unsupported", f"TensorFlow has no built-in {kind} support")

    # --- data and sync
    def _scope(self, device: str):
        return self.lib.device(self._names[device])

    def _on(self, device: str, function):
        """Run ``function`` placed on ``device`` (a scope only where a GPU could otherwise take the op)."""
        if not self._gpus:
            return function
        name = self._names[device]
        tf = self.lib

        def run():
            with tf.device(name):
                return function()

        return run

    def array(self, host: Any, device: str, dtype: str = "fp32") -> Any:
        tf = self.lib
        with self._scope(device):
            value = tf.identity(tf.constant(host))
            if dtype == "bf16":
                value = tf.cast(value, tf.bfloat16)
        return value

    def to_numpy(self, value: Any) -> Any:
        tf = self.lib
        if value.dtype != tf.float32:
            value = tf.cast(value, tf.float32)
        return value.numpy()

    def sync_for(self, device: str):
        tf = self.lib
        sync_devices = tf.test.experimental.sync_devices
        # Eager CPU kernels finish before they return unless async execution was switched on.
        device_sync = device != "cpu" or not tf.config.experimental.get_synchronous_execution()

        def sync(output: Any) -> None:
            if isinstance(output, (tuple, list)):
                output = output[0]
            elements = output.shape.num_elements()
            if elements is not None and elements <= SMALL:
                output.numpy()  # fetching waits for the op that produced it
            elif device_sync:
                sync_devices()

        return sync

    def matmul_precision(self, device: str, dtype: str) -> tuple[str, dict[str, Any]]:
        tf = self.lib
        if dtype != "fp32":
            return dtype, {}
        enabled = bool(tf.config.experimental.tensor_float_32_execution_enabled())
        if device == "cuda" and enabled and self._capability_major() >= 8:
            return "tf32 (TensorFlow enables TF32 by default on Ampere and later)", {"tensor_float_32": True}
        return "fp32", {"tensor_float_32": enabled} if device != "cpu" else {}

    def _capability_major(self) -> int:
        tf = self.lib
        try:
            details = tf.config.experimental.get_device_details(self._gpus[0])
            return int(details.get("compute_capability", (0, 0))[0])
        except Exception:  # noqa: BLE001
            return 0

    # --- operations
    def matmul(self, device: str, dtype: str):
        tf = self.lib
        if not self._gpus:
            return tf.linalg.matmul
        name = self._names[device]

        def matmul(a, b):
            with tf.device(name):
                return tf.linalg.matmul(a, b)

        return matmul

    def conv2d(self, device: str, x: Any, w: Any):
        tf = self.lib
        dx, dw = self.array(x, device), self.array(w, device)
        run = self._on(device, lambda: tf.nn.conv2d(dx, dw, strides=1, padding="SAME"))
        return run, self.to_numpy, "NHWC"

    def add(self, device: str, b: Any, c: Any):
        tf = self.lib
        db, dc = self.array(b, device), self.array(c, device)
        return self._on(device, lambda: tf.add(db, dc)), False

    def small_add(self, device: str, x: Any, y: Any):
        tf = self.lib
        dx, dy = self.array(x, device), self.array(y, device)
        return self._on(device, lambda: tf.add(dx, dy))

    def mlp(self, device: str, params: list[Any], x: Any, y: Any, lr: float, compiled: bool) -> MlpStep:
        tf = self.lib
        with self._scope(device):
            weights = [tf.Variable(p) for p in params]
            dx = tf.constant(x)
            dy = tf.constant(y)

        def train_step(inputs, labels):
            with tf.GradientTape() as tape:
                w1, b1, w2, b2, w3, b3 = weights
                h = tf.nn.relu(tf.matmul(inputs, w1) + b1)
                h = tf.nn.relu(tf.matmul(h, w2) + b2)
                logits = tf.matmul(h, w3) + b3
                loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
            grads = tape.gradient(loss, weights)
            for weight, grad in zip(weights, grads):
                weight.assign_sub(lr * grad)
            return loss

        step_fn = tf.function(train_step, jit_compile=True) if compiled else train_step
        step = self._on(device, lambda: step_fn(dx, dy))
        sync_devices = tf.test.experimental.sync_devices

        def sync(loss: Any) -> None:
            loss.numpy()
            if device != "cpu":
                sync_devices()  # the variable updates run after the loss on the device's stream

        api = ("tf.function(jit_compile=True)(GradientTape + Variable.assign_sub)" if compiled
               else "GradientTape + Variable.assign_sub, eager")
        return MlpStep(step=step, sync=sync, api=api,
                              params=lambda: [w.numpy().copy() for w in weights],
                              loss=lambda loss: float(loss.numpy()))


    def h2d(self, device: str, host: Any):
        if device == "apple-gpu":
            return None  # unified memory
        tf = self.lib
        name = self._names[device]

        def copy():
            with tf.device(name):
                return tf.identity(tf.constant(host))

        return copy
