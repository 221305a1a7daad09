"""Phase-B benchmark modules: one per framework, each importing only its framework and NumPy.

The imports happen inside functions that the worker process calls (``python -m probes.worker``), never
at module import, so importing this package stays cheap and framework-free.
"""

FRAMEWORK_MODULES = {
    "numpy": "probes.bench.numpy_bench",
    "pytorch": "probes.bench.pytorch_bench",
    "jax": "probes.bench.jax_bench",
    "mlx": "probes.bench.mlx_bench",
    "tensorflow": "probes.bench.tensorflow_bench",
}
