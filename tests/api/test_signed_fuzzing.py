"""Schemathesis against a started agent on a simulated cluster, every request signed as a real
client signs it (``tests.helpers.signed_fuzz``): every route, no answer ≥ 500, every answer a
documented status whose body matches the OpenAPI schema.

``PYOBSHELL_FUZZ_EXAMPLES`` sets the generated cases per operation (default 25: about a minute).
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
import schemathesis

from pyobshell.security.agent_token import AgentToken
from tests.helpers import nets
from tests.helpers.signed_fuzz import Signer, fuzz
from tests.helpers.sim import sim_cluster, wait_for

pytestmark = pytest.mark.multiprocess

PASSWORD = "fuzz-pw"
MAX_EXAMPLES = int(os.environ.get("PYOBSHELL_FUZZ_EXAMPLES", "25"))


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory):
    with sim_cluster(tmp_path_factory.mktemp("fuzz"), net=nets.SIGNED_FUZZING, zones=1, password=PASSWORD,
                     agents=True) as cluster:
        yield cluster["agents"][0]


def test_every_route_survives_signed_fuzzing_within_its_schema(agent: dict) -> None:
    home = Path(agent["home"])
    with httpx.Client(base_url=f"http://{agent['ip']}:{agent['port']}", timeout=60) as client:
        document = client.get("/openapi.json").json()
        public_key = client.get("/api/v1/secret").json()["data"]["public_key"]
        token = wait_for(lambda: AgentToken.load(home), what="the agent token").value
        report = fuzz(schemathesis.openapi.from_dict(document), client, Signer(public_key, PASSWORD, token),
                      MAX_EXAMPLES)
    operations = {f"{method.upper()} {path}" for path, methods in document["paths"].items() for method in methods}
    failures = "\n\n".join(f"== {label}\n{text}" for label, text in report.failures.items())
    assert set(report.statuses) == operations
    assert report.refused_every_signature() == [], (report.statuses, failures)
    assert report.failures == {}, failures
