"""After the post script, a hop is verified: every server at the hop's build and
min_observer_version equal to it; otherwise the node fails with what is behind."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from pyobshell.errors import ObshellError
from pyobshell.upgrade.tasks.scripts import ExecScriptTask


def task_with(builds: list[str], minimum: list[str]) -> ExecScriptTask:
    def query(sql: str, args=None):
        if "DBA_OB_SERVERS" in sql:
            return [{"SVR_IP": f"127.0.0.{i}", "BUILD_VERSION": f"{b}_1-abc(x)"} for i, b in enumerate(builds, 1)]
        return [{"VALUE": v} for v in minimum]

    class Verifying(ExecScriptTask):
        env = SimpleNamespace(query=query)  # the environment, without an agent process

        def log_info(self, message: str) -> None:
            pass

    return Verifying()


def test_a_finished_hop_passes() -> None:
    task_with(["4.2.1.1"] * 3, ["4.2.1.1"])._verify_hop("4.2.1.1")


@pytest.mark.parametrize("builds, minimum, fragment", [
    (["4.2.1.1", "4.2.1.0", "4.2.1.1"], ["4.2.1.1"], "127.0.0.2 (4.2.1.0)"),
    (["4.2.1.1"] * 3, ["4.2.1.0"], "min_observer_version is 4.2.1.0"),
])
def test_a_hop_left_behind_fails(builds: list[str], minimum: list[str], fragment: str) -> None:
    with pytest.raises(ObshellError) as error:
        task_with(builds, minimum)._verify_hop("4.2.1.1")
    assert error.value.code == "OB.Upgrade.VersionMismatch" and fragment in error.value.message
