"""Phase-B benchmark modules: one per framework, each importing only its framework and NumPy.

The imports happen inside functions that the worker process calls (``python -m framework_advisor.probes.worker``), never
at module import, so importing this package stays cheap and framework-free.
"""

FRAMEWORK_MODULES = {
    "numpy": "framework_advisor.probes.bench.numpy_bench",
    "pytorch": "framework_advisor.probes.bench.pytorch_bench",
    "jax": "framework_advisor.probes.bench.jax_bench",
    "mlx": "framework_advisor.probes.bench.mlx_bench",
    "tensorflow": "framework_advisor.probes.bench.tensorflow_bench",
}
