"""The CI hardware audit: policy (requirements), checks, outputs, run.

Only the --require grammar lives here: the CLI shows it in --help without loading the policy models.
"""

REQUIRE_GRAMMAR = """\
accelerator:KIND[>=N][,memory>=GB]     e.g. accelerator:cuda>=8,memory>=80
framework:NAME[@DEVICE][SPECIFIER]     e.g. framework:pytorch@cuda, framework:jax>=0.4,<0.11
benchmark:FRAMEWORK.NAME[@DEVICE]>=X   e.g. benchmark:numpy.matmul_fp32@cpu>=100 (in the figure's unit)
benchmark:FRAMEWORK.NAME[@DEVICE]>=X%  e.g. benchmark:pytorch.matmul_bf16@cuda>=50% (of the device's peak)
benchmark:FRAMEWORK.NAME[@DEVICE]<=X   e.g. benchmark:pytorch.dispatch_latency@cpu<=5 (latencies, us)
no-failures                            nothing in the probe failed"""
