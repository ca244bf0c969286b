"""The kill matrix: kill -9 one agent while each stage of a 3-zone rolling upgrade runs, and
what it cost (see tests/helpers/kill_matrix.py for the cases).

Run: `.venv/bin/python bench/kill_matrix.py [--kinds maintainer,executor,dead,observer]
[--stages 1-26] [--net N]`. Each case is a fresh simulated cluster (fast profile) on loopback
127.<net>.x.x; the table prints per case the victim, whether the kill landed while the stage
still ran, the outcome, the time from the kill to the next stage and the operator actions
needed. Exit status 1 when a case did not end as it should.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests package holds the harness

from tests.helpers.kill_matrix import KINDS, STAGES, KillCase, build_packages, run_case, table  # noqa: E402


def stages(text: str) -> list[int]:
    first, _, last = text.partition("-")
    chosen = list(range(int(first), int(last or first) + 1))
    if not chosen or chosen[0] < 1 or chosen[-1] > STAGES:
        raise argparse.ArgumentTypeError(f"stages must lie in 1-{STAGES}")
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated among {', '.join(KINDS)}")
    parser.add_argument("--stages", type=stages, default=stages(f"1-{STAGES}"), help="e.g. 1-26 or 9")
    parser.add_argument("--net", type=int, default=47, help="loopback network 127.<net>.x.x")
    args = parser.parse_args()
    kinds = [kind for kind in args.kinds.split(",") if kind]
    if not kinds or set(kinds) - set(KINDS):
        parser.error(f"--kinds: choose among {', '.join(KINDS)}")
    cases = [KillCase(kind, stage) for kind in kinds if kind in ("maintainer", "executor") for stage in args.stages]
    cases += [KillCase(kind) for kind in kinds if kind in ("dead", "observer")]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        packages = build_packages(Path(tmp) / "rpm")
        for case in cases:
            results.append(run_case(case, Path(tmp), packages, args.net))
            print(table(results[-1:]).splitlines()[-1], flush=True)
    print()
    print(table(results))
    for kind in kinds:
        mine = [r for r in results if r.case.kind == kind]
        print(f"{kind}: {sum(r.ok for r in mine)}/{len(mine)} as expected "
              f"({'no operator action' if kind in ('maintainer', 'executor') else 'one RETRY after the repair'})")
    sys.exit(0 if all(r.ok for r in results) else 1)


if __name__ == "__main__":
    main()
