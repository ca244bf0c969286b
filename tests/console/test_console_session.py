"""The console's session handling (``console/static/js/api.js``) under Node, fetch stubbed.

A page polls several calls at once; when its session ends elsewhere, each of them is refused.
Only the first refusal may sign the page out: a later one, answered after the operator signed in
again, must keep the new session (the browser test saw a re-sign-in undone by a stale answer).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from pyobshell.console import STATIC_DIR
from pyobshell.security.keypair import AgentKeyPair

NODE = shutil.which("node")
HARNESS = Path(__file__).with_name("session_harness.mjs")
MODULE = STATIC_DIR / "js" / "api.js"
INVALID = "Security.Authentication.SessionInvalid"

pytestmark = pytest.mark.skipif(NODE is None, reason="Node.js is not installed (Debian package 'nodejs'): "
                                                     "the console's session handling is tested under it")


def run(key_pair: AgentKeyPair, steps: list[dict]) -> list[dict]:
    done = subprocess.run([NODE, str(HARNESS)], capture_output=True, text=True, timeout=60,
                          input=json.dumps({"module": str(MODULE), "public_key": key_pair.public_key_b64(),
                                            "steps": steps}))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["events"]


def test_stale_refusals_of_an_ended_session_keep_the_session_signed_in_since(key_pair: AgentKeyPair) -> None:
    events = run(key_pair, [
        {"do": "session", "value": "a" * 64},
        *({"do": "call", "name": n} for n in ("info", "status", "unfinished")),
        {"do": "answer", "name": "info", "status": 401, "errCode": INVALID},
        {"do": "session", "value": "b" * 64},
        {"do": "answer", "name": "status", "status": 401, "errCode": INVALID},
        {"do": "answer", "name": "unfinished", "status": 401, "errCode": INVALID},
    ])
    first, signed_in, *stale = events[4:]
    assert first == {"outcome": f"refused {INVALID}", "session": "", "stored": None, "ended": 1}
    assert signed_in["session"] == "b" * 64
    for event in stale:
        assert event == {"outcome": f"refused {INVALID}", "session": "b" * 64, "stored": "b" * 64, "ended": 1}


def test_a_refusal_of_the_current_session_signs_out(key_pair: AgentKeyPair) -> None:
    events = run(key_pair, [
        {"do": "session", "value": "b" * 64},
        {"do": "call", "name": "info"},
        {"do": "call", "name": "dags"},
        {"do": "answer", "name": "info", "status": 200},
        {"do": "answer", "name": "dags", "status": 401, "errCode": "Security.Authentication.SessionExpired"},
    ])
    assert events[3] == {"outcome": "ok", "session": "b" * 64, "stored": "b" * 64, "ended": 0}
    assert events[4] == {"outcome": "refused Security.Authentication.SessionExpired", "session": "", "stored": None,
                         "ended": 1}
