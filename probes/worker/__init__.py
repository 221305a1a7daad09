"""The worker: one framework, one fresh process, honest microbenchmarks, one JSON result.

Standard library only at module level, and relative imports only (``..vocabulary`` is the one module it
reads from outside this package): it may run in an interpreter that has nothing but the frameworks it
measures, which each adapter imports inside its own functions. Run as ``python -m framework_advisor.probes.worker``.

One idea per module:

- ``options``: what the worker is asked (``WorkerOptions``) and its command line, for both ends;
- ``records``: what it reports (``WorkerResult`` and the records in it), validated by the parent;
- ``messages``: the conversation with a parent that measures in turns (Ready, Prepared, Samples ...);
- ``protocol``: progress lines on stderr, commands in, replies out, and the atomic result file;
- ``machine``: thread limits, CPU pinning, cache isolation, the cache sizes, the usable CPUs;
- ``setup``: the import, first result, build, devices and plan: what Ready says;
- ``timing``: the harness (first call, warm-up, blocks, stopping rule), keeping every sample;
- ``sizes``: the standard sizes, the ladder that reaches them, and a size the parent asks for;
- ``checks``: the NumPy references and the output checks;
- ``adapter``: what a framework adapter implements, and the budgets derived from the options;
- ``figures``: from a measurement to a record, with its percent of the device's peak;
- ``benchmarks``: the benchmarks themselves: problem, size, first call, check, record;
- ``session``: one benchmark at one size, prepared, sampled in turns, finished;
- ``conversation``: the sessions, what each command does, and what the result collects;
- ``calibration``: the practical CPU peak right now (an in-cache NumPy matmul);
- ``suite``: which benchmarks run where, in what order, and the worker's own run of them;
- ``cleanup``: cold compiles that overrun their deadline, and leaving after one;
- ``adapters``: one module per framework (``ADAPTERS``).
"""
