"""The web process never imports a deep-learning framework (start-up speed and crash isolation)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import HEAVY_MODULES, REPO_ROOT

SERVE_SOME_REQUESTS = """
import json, sys, tempfile
from pathlib import Path
from framework_advisor.app import create_app
from framework_advisor.config import Settings
app = create_app(Settings(data_dir=Path(tempfile.mkdtemp())))
client = app.test_client()
for path in ("/", "/healthz", "/v1/frameworks", "/v1/hardware"):
    assert client.get(path).status_code == 200, path
assert client.post("/v1/recommendations", json={"goals": ["research"], "experience": "expert"}).status_code == 200
heavy = set(sys.argv[1:])
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in heavy)))
"""


def test_serving_imports_no_framework():
    result = subprocess.run([sys.executable, "-c", SERVE_SOME_REQUESTS, *HEAVY_MODULES], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_no_module_of_the_web_packages_imports_a_framework_at_module_level():
    """Every .py file under service/ and rules/ is a module the web process could import: none may
    import a framework at its top level (starter programs are .py.tmpl templates, read as text)."""
    import ast

    heavy = set(HEAVY_MODULES)
    offenders = []
    for path in sorted([*(REPO_ROOT / "service").rglob("*.py"), *(REPO_ROOT / "rules").rglob("*.py")]):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.relative_to(REPO_ROOT)}:{node.lineno}: {name}"
                          for name in names if name.split(".")[0] in heavy]
    assert offenders == []
