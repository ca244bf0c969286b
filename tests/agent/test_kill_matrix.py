"""A short run of the kill matrix (bench/kill_matrix.py runs all 26 stages): the maintainer's
agent killed with SIGKILL in the pre and post script stages, an executor's in its zone's
stop and reinstall stages, each restarted at once; every upgrade succeeds with no operator
action, and afterwards every agent answers the whole DAG, its logs and the packages."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import nets
from tests.helpers.kill_matrix import KillCase, build_packages, run_case, table

pytestmark = pytest.mark.multiprocess

CASES = [KillCase("maintainer", 8), KillCase("maintainer", 24), KillCase("executor", 10), KillCase("executor", 16)]


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return build_packages(tmp_path_factory.mktemp("kill-rpm"))


@pytest.mark.parametrize("case", CASES, ids=[case.label for case in CASES])
def test_an_agent_killed_in_a_stage_and_restarted_costs_nothing(case: KillCase, packages: list[Path],
                                                                 tmp_path: Path) -> None:
    result = run_case(case, tmp_path, packages, nets.KILL_MATRIX)
    print(table([result]))
    assert result.outcome == "SUCCEED", table([result])
    assert result.actions == [] and result.lost == [], table([result])
    # clients following the DAG through any live agent were answered all along (store failover)
    assert result.reads > 0 and result.read_errors == [], table([result])
    assert result.kill_to_next_stage_s is not None
