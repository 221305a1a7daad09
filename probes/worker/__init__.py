"""The worker: one framework, one fresh process, honest microbenchmarks, one JSON result.

Standard library only at module level, and relative imports only (``..vocabulary`` is the one module it
reads from outside this package): it may run in an interpreter that has nothing but the frameworks it
measures, which each adapter imports inside its own functions. Run as ``python -m framework_advisor.probes.worker``.

One idea per module:

- ``options``: what the worker is asked (``WorkerOptions``) and its command line, for both ends;
- ``records``: what it reports (``WorkerResult`` and the records in it), validated by the parent;
- ``protocol``: progress lines on stderr and the atomic result file;
- ``machine``: thread limits, cache isolation, the last-level cache size, the usable CPUs;
- ``timing``: the harness (first call, warm-up, blocks, stopping rule), keeping every sample;
- ``sizes``: the standard sizes and the ladder that reaches them;
- ``checks``: the NumPy references and the output checks;
- ``adapter``: what a framework adapter implements, and the budgets derived from the options;
- ``figures``: from a measurement to a record, with its percent of the device's peak;
- ``benchmarks``: the benchmarks themselves;
- ``suite``: which benchmarks run where, in what order, and what a failure becomes;
- ``cleanup``: cold compiles that overrun their deadline, and leaving after one;
- ``adapters``: one module per framework (``ADAPTERS``).
"""
