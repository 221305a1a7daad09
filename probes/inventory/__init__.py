"""Phase A: what hardware this machine has, learned without importing any deep-learning framework.

The web process calls this, so it must stay fast (well under a second) and import no torch, jax,
mlx, tensorflow or numpy: it sniffs procfs, sysfs, PCI ids, sysctl and NVML instead, through the
`System` seam so that every path can be tested on fixture machines. It returns a HardwareProfile
(openapi.yaml) that also says how each fact was obtained (`provenance`) and what the user should
know (`warnings`): a device that is present but unusable must not look the same as no device.

Memory is reported in GiB (2**30 bytes), the unit the contract calls "GB", as nvidia-smi and most
tools do.

The detectors live in one module each (host, cpu, memory, nvidia, jetson, rocm, tpu, gaudi, apple, intel)
over the shared `findings` helpers and the `pci` listings; `hardware_profile` runs them and fits the result
to the contract. Each accelerator's `driver` is the version its builds depend on: the NVIDIA driver (NVML, else
the driver's /sys or /proc files), the ROCm release (/opt/rocm/.info/version), the habanalabs driver; a Jetson's
GPU is `integrated`, with the compute capability of its SoC.
"""

from framework_advisor.probes.inventory.hardware_profile import fit_to_schema, take_inventory
from framework_advisor.probes.inventory.host import ROSETTA_WARNING
from framework_advisor.probes.inventory.rocm import gfx_arch

__all__ = ["ROSETTA_WARNING", "fit_to_schema", "gfx_arch", "take_inventory"]
