"""The phase-B worker: one framework, one fresh process, honest microbenchmarks, one JSON result.

Standard library only (and the framework it measures, imported inside its adapter): it may run in an
interpreter that has nothing else. Run as ``python -m framework_advisor.probes.worker``.
"""
