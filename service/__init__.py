"""framework-advisor's web service, CLI and storage. Never imports a deep-learning framework.

For notebooks and scripts: ``from framework_advisor import recommend, probe, hardware`` (and ``starter``),
functions returning the models the API and the CLI speak (see ``framework_advisor.python_api``).
"""

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

try:
    __version__ = version("framework-advisor")
except PackageNotFoundError:  # running from a checkout that was not pip-installed
    __version__ = "0.0.0+checkout"

# The Python API (service/python_api.py), loaded on first use: `import framework_advisor` stays cheap.
__all__ = ["InputError", "__version__", "hardware", "probe", "recommend", "starter"]
_PYTHON_API = ("InputError", "hardware", "probe", "recommend", "starter")

if TYPE_CHECKING:
    from framework_advisor.python_api import InputError, hardware, probe, recommend, starter


def __getattr__(name: str):
    if name in _PYTHON_API:
        from framework_advisor import python_api

        return getattr(python_api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_PYTHON_API})
