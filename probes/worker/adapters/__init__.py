"""One adapter module per framework, each importing its framework (and NumPy) only inside its functions.

``ADAPTERS`` maps a framework id (``vocabulary.FRAMEWORK_IDS``) to its module here; ``load_module`` imports
it. Importing these modules stays cheap and framework-free: the worker times the framework's import itself.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from ...vocabulary import FRAMEWORK_IDS

# Each framework's adapter is the module named after its id.
ADAPTERS = {framework: framework for framework in FRAMEWORK_IDS}


def load_module(framework: str) -> ModuleType:
    """The adapter module of ``framework``: it has ``load(settings) -> lib`` and ``Adapter(lib, settings)``."""
    return importlib.import_module(f".{ADAPTERS[framework]}", __name__)
