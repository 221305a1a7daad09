"""Schemathesis over the whole openapi.yaml, in-process against the Flask app (WSGI, no server).

Every operation gets generated valid and invalid requests; every check schemathesis has must pass
(no 500s, responses that match the spec, status codes and content types the spec declares, negative
data refused, ...). POST /v1/probes is fuzzed too: a fake, instant probe stands in for the real one.
The same spec is fuzzed against gunicorn over HTTP by benchmarks/fuzz_server.py.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings

from framework_advisor.app import create_app
from framework_advisor.config import Settings
from framework_advisor.contract.document import OPENAPI_PATH
from tests.service_fixtures import instant_probe

MAX_EXAMPLES = 25  # per operation; the CLI run (benchmarks/fuzz_server.py) goes further


# The app is built when the module loads: schemathesis.pytest.from_fixture (the lazy loader) breaks on
# pytest 9.2 ('Function' object has no attribute '_nodeid'), and parametrize copies `schema.app` when it
# decorates the test, so the app must exist by then. Its store and lock live in a private directory.
_DATA = Path(tempfile.mkdtemp(prefix="framework-advisor-fuzz-"))
atexit.register(shutil.rmtree, _DATA, ignore_errors=True)  # also when the module is only collected
# Rate limits far above what the run sends: POST /v1/probes keeps reaching its validation (the limiters
# themselves are tested in tests/test_limits.py).
APP = create_app(Settings(data_dir=_DATA / "data", probe_lock_path=_DATA / "probe.lock", probe_rate_limit=100_000,
                          upload_rate_limit=100_000),
                 run_probe=instant_probe)
schema = schemathesis.openapi.from_path(OPENAPI_PATH)
schema.app = APP  # WSGI transport: requests go straight into the app
_SETTINGS = settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True,
                     suppress_health_check=list(HealthCheck))


@schema.parametrize()
@_SETTINGS
def test_every_operation_meets_every_check(case):
    case.call_and_validate()


def test_stateful_sequences():
    """Sequences that follow the links schemathesis infers from the Location headers: start or upload a
    probe, then read it back."""
    machine = schema.as_state_machine()
    links = [name for name in dir(machine) if name.startswith("POST_v1_probes") and "GET_v1_probes_probe_id" in name]
    assert links, "no stateful links: the state machine would test nothing"
    # Four steps per scenario: with six or more, schemathesis 4.32's transition control can wedge a
    # derandomized run (it counts a source operation's history by label, so once POST -> GET is used up it
    # waits for a 201 upload bundle that may stay empty: hypothesis InvalidDefinition "no progress").
    machine.run(settings=settings(max_examples=15, stateful_step_count=4, deadline=None, derandomize=True,
                                  suppress_health_check=list(HealthCheck)))
