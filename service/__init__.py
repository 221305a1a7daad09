"""framework-advisor's web service, CLI and storage. Never imports a deep-learning framework."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("framework-advisor")
except PackageNotFoundError:  # running from a checkout that was not pip-installed
    __version__ = "0.0.0+checkout"
