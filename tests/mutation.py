"""``make mutation``: mutation testing of the rule modules with mutmut, then a score per rule module.

Each rule module is tested in its own workspace, ``mutants/<rule>/``: links to the source and the tests, and a
pyproject.toml whose ``[tool.mutmut]`` (the one of the project's pyproject.toml, narrowed) mutates only that
module's file and selects only the fast SQLite tests that exercise it. mutmut copies the tree into
``mutants/<rule>/mutants`` and, for each mutant, runs those of the selected tests that called the mutated
function. Only the rule functions listed below are run; the rest of those files (HTTP plumbing, dispatch loops,
commissioning) is generated but not run and not counted. A module's cached results stay until its file, its
tests or this table change.

    python tests/mutation.py               # every rule module in turn, then the table
    python tests/mutation.py reorder-forecast recovery    # only these
    python tests/mutation.py --report      # the table of the last runs
    python tests/mutation.py --survivors   # and the surviving mutants (``mutmut show NAME`` in the workspace)

Scores and the survivors judged equivalent: docs/testing.md, "Mutation testing".
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEP = "\u01c1"  # mutmut's separator between a class and its method in a mutant's name
LINKED = ("services", "drivers", "tests", "alembic.ini", "migrations")


@dataclass(frozen=True)
class Rule:
    source: tuple[str, ...]  # the files mutated
    mutants: tuple[str, ...]  # the mutant names (globs) run and counted
    tests: tuple[str, ...]  # the test files selected (those that do not exist yet are left out)


RULES: dict[str, Rule] = {
    "queue-policy": Rule(
        ("services/request/queue/policy.py",),
        ("services.request.queue.policy.*",),
        ("tests/request/test_queue.py", "tests/request/test_queue_policy_rules.py"),
    ),
    "request-validation": Rule(
        ("services/request/print_requests/validation.py",),
        ("services.request.print_requests.validation.*",),
        ("tests/request/test_print_requests.py", "tests/request/test_validation_rules.py"),
    ),
    "request-states": Rule(
        ("services/request/print_requests/states.py",),
        ("services.request.print_requests.states.*",),
        ("tests/request/test_print_requests.py", "tests/request/test_request_state_rules.py"),
    ),
    "reservations": Rule(
        ("services/inventory/reservations/service.py", "services/inventory/reservations/repository.py"),
        ("services.inventory.reservations.service.*", "services.inventory.reservations.repository.*"),
        ("tests/inventory/test_reservations.py", "tests/inventory/test_reservation_rules.py"),
    ),
    "ledger-invariant": Rule(
        ("services/inventory/ledger/service.py",),
        (
            "services.inventory.ledger.service.x_invariant__mutmut_*",
            "services.inventory.ledger.service.x_urgent_reserve__mutmut_*",
        ),
        (
            "tests/inventory/test_ledger.py",
            "tests/inventory/test_invariant.py",
            "tests/inventory/test_invariant_rules.py",
        ),
    ),
    "inventory-states": Rule(
        ("services/inventory/states.py",),
        ("services.inventory.states.*",),
        ("tests/inventory/test_reservations.py", "tests/inventory/test_inventory_state_rules.py"),
    ),
    "reorder-forecast": Rule(
        ("services/inventory/reorder/service.py",),
        tuple(
            f"services.inventory.reorder.service.{function}__mutmut_*"
            for function in (
                f"x{SEP}Rate{SEP}*",
                "x__at_point",
                "x_maybe_draft",
                "x_measure",
                "x_project",
                "x_forecast",
                "x__n",
            )
        ),
        ("tests/inventory/test_reorder.py", "tests/inventory/test_forecast_rules.py"),
    ),
    "journal-steps": Rule(
        ("services/gateway/journal/steps.py",),
        ("services.gateway.journal.steps.*",),
        ("tests/gateway/test_journal.py", "tests/gateway/test_journal_step_rules.py"),
    ),
    "recovery": Rule(
        ("services/gateway/dispatch/dispatcher.py", "services/gateway/dispatch/worker.py"),
        (
            f"services.gateway.dispatch.dispatcher.x{SEP}Dispatcher{SEP}recover_journal__mutmut_*",
            f"services.gateway.dispatch.worker.x{SEP}PrinterWorker{SEP}recover__mutmut_*",
        ),
        ("tests/gateway/test_journal.py", "tests/gateway/test_recovery_rules.py"),
    ),
    "reply-parser": Rule(
        ("drivers/protocol.py",),
        ("drivers.protocol.*",),
        ("tests/drivers/test_protocol.py", "tests/drivers/test_reply_parser_rules.py"),
    ),
}

KILLED = {1, 3, 36, 24, -24, 152, 255, -11, -9, 37}  # a failing test, a time-out, a crash
SURVIVED = {0}
NO_TESTS = {5, 33}


def workspace(name: str, rule: Rule) -> Path:
    """``mutants/<rule>/``: links to the tree, and the project's pyproject.toml with ``[tool.mutmut]`` narrowed."""
    place = ROOT / "mutants" / name
    place.mkdir(parents=True, exist_ok=True)
    for entry in LINKED:
        link = place / entry
        if not link.is_symlink():
            link.symlink_to(ROOT / entry)
    pyproject = (ROOT / "pyproject.toml").read_text()
    section = re.search(r"^\[tool\.mutmut\]\n(.*?)(?=^\[)", pyproject, re.S | re.M)
    assert section is not None, "pyproject.toml has no [tool.mutmut]"
    base = re.sub(r"^(only_mutate|pytest_add_cli_args_test_selection) = \[.*?^\]\n", "", section[1], flags=re.S | re.M)
    tests = [test for test in rule.tests if (ROOT / test).exists()]
    narrowed = f"{base}only_mutate = {json.dumps(list(rule.source))}\n"
    narrowed += f"pytest_add_cli_args_test_selection = {json.dumps(tests)}\n\n"
    text = pyproject[: section.start(1)] + narrowed + pyproject[section.end(1) :]
    target = place / "pyproject.toml"
    if not target.exists() or target.read_text() != text:
        target.write_text(text)
    return place


def results(name: str) -> dict[str, int | None]:
    found: dict[str, int | None] = {}
    for meta in (ROOT / "mutants" / name / "mutants").rglob("*.meta"):
        found.update(json.loads(meta.read_text())["exit_code_by_key"])
    rule = RULES[name]
    return {k: v for k, v in found.items() if any(fnmatch.fnmatchcase(k, p) for p in rule.mutants)}


def report(*, survivors: bool) -> None:
    columns = ("mutants", "killed", "survived", "no tests", "not run", "score")
    print(f"{'rule module':<20} " + " ".join(f"{c:>8}" for c in columns))
    left: list[str] = []
    for name in RULES:
        counts: Counter[str] = Counter()
        for mutant, code in sorted(results(name).items()):
            if code is None:
                counts["not run"] += 1
            elif code in KILLED:
                counts["killed"] += 1
            elif code in SURVIVED or code in NO_TESTS:
                counts["survived" if code in SURVIVED else "no tests"] += 1
                left.append(f"{name:<20} {mutant}{'' if code in SURVIVED else '  (no test calls it)'}")
            else:
                counts["other"] += 1
        total = sum(counts.values())
        tried = counts["killed"] + counts["survived"] + counts["no tests"]
        score = f"{100 * counts['killed'] / tried:.0f}%" if tried else "-"
        figures = (total, counts["killed"], counts["survived"], counts["no tests"], counts["not run"], score)
        print(f"{name:<20} " + " ".join(f"{f:>8}" for f in figures))
    if survivors:
        print("\n".join(left))


def main(argv: list[str]) -> int:
    if "--report" in argv or "--survivors" in argv:
        report(survivors="--survivors" in argv)
        return 0
    chosen = [a for a in argv if not a.startswith("-")] or list(RULES)
    unknown = [name for name in chosen if name not in RULES]
    if unknown:
        print(f"unknown rule modules {unknown}; choose from {list(RULES)}", file=sys.stderr)
        return 2
    children = os.environ.get("MUTATION_CHILDREN", "2")
    mutmut = str(Path(sys.executable).with_name("mutmut"))
    worst = 0
    for name in chosen:
        rule = RULES[name]
        print(f"== {name}", flush=True)
        place = workspace(name, rule)
        code = subprocess.call([mutmut, "run", "--max-children", children, *rule.mutants], cwd=place)
        worst = worst or code
    report(survivors=False)
    return worst


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
