"""`make mutation`: mutate the consumer's core, run its unit tests, write docs/mutation.md.

mutmut names a mutant after its file's path below the directory it runs in (with `src.`
dropped), so it runs in a staging directory, build/mutation, laid out as `src/consumer` and
`tests/unit`: the names it gives are then the modules the tests import. Only the unit tests
that import the consumer are copied: mutants are judged by them alone.

The report counts killed, survived and untested mutants, and lists every survivor with the
reason it is left alive, read from infra/mutation/survivors.toml (kept by hand, keyed by
mutant name); a survivor without a reason there is listed as "no reason given: write a test".

mutmut changes expressions but never deletes a statement, so the review's seven one-line
mutations (issue #10) are also applied, one at a time, to the staged copy and must each make
the same unit tests fail.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STAGE = ROOT / "build" / "mutation"
REASONS = ROOT / "infra" / "mutation" / "survivors.toml"
REPORT = ROOT / "docs" / "mutation.md"
MUTATED = ["batching.py", "checkpoint.py", "deadletter.py", "loop.py", "pipeline.py"]
GOAL = 0.90

# (file, what the review changed, the line before -> after): each must fail the unit tests.
REVIEW = [
    (
        "checkpoint.py",
        "drop the +1 on committed offsets",
        "(message.offset() or 0) + 1",
        "(message.offset() or 0)",
    ),
    (
        "loop.py",
        "drop the commit on revoke",
        "            self.checkpoint.commit()\n        # Whatever",
        "        # Whatever",
    ),
    ("loop.py", "drop the dead-letter flush", "        self.dead_letters.flush()\n", ""),
    (
        "loop.py",
        "drop the owned-partition filter",
        "if message.partition() in self.owned:",
        "if True:",
    ),
    (
        "loop.py",
        "drop the pause on a failed commit",
        "            self.consumer.pause(assignment)\n",
        "",
    ),
    (
        "deadletter.py",
        "make the flush never fail",
        "        if left or failures:",
        "        if False:",
    ),
    (
        "loop.py",
        "skip processed()",
        "            self.checkpoint.processed(self.waiting.popleft()[1])\n",
        "            self.waiting.popleft()\n",
    ),
]


def stage() -> None:
    shutil.rmtree(STAGE, ignore_errors=True)
    (STAGE / "tests" / "unit").mkdir(parents=True)
    shutil.copytree(ROOT / "services" / "consumer" / "src" / "consumer", STAGE / "src" / "consumer")
    shutil.copy(ROOT / "tests" / "__init__.py", STAGE / "tests")
    for test in sorted((ROOT / "tests" / "unit").glob("*.py")):
        text = test.read_text()
        if test.name in ("__init__.py", "fakes.py") or re.search(r"^from consumer\b", text, re.M):
            shutil.copy(test, STAGE / "tests" / "unit")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]
    only = ", ".join(f'"src/consumer/{name}"' for name in MUTATED)
    addopts = ", ".join(f'"{a}"' for a in config["pytest"]["ini_options"]["addopts"])
    (STAGE / "pyproject.toml").write_text(
        f"""[tool.mutmut]
source_paths = ["src/consumer"]
only_mutate = [{only}]
pytest_add_cli_args_test_selection = ["tests/unit"]
# Only some tests run for each mutant: an unused snapshot is then no failure.
pytest_add_cli_args = ["-p", "no:cacheprovider", "--snapshot-warn-unused"]

[tool.pytest.ini_options]
addopts = [{addopts}]
filterwarnings = ["error"]
timeout = 60
"""
    )


def run() -> None:
    with (STAGE / "mutmut.log").open("w") as log:
        done = subprocess.run(
            [sys.executable, "-m", "mutmut", "run"], cwd=STAGE, stdout=log, stderr=log
        )
    if done.returncode != 0:
        sys.exit(f"mutmut run failed ({done.returncode}): see {STAGE / 'mutmut.log'}")


def review() -> list[tuple[str, bool]]:
    """Apply each of the review's mutations to the staged source; (what, killed) for each."""
    outcome = []
    for file, what, before, after in REVIEW:
        path = STAGE / "src" / "consumer" / file
        original = path.read_text()
        if original.count(before) != 1:
            sys.exit(f"review mutation {what!r}: {before!r} is not once in {file}")
        path.write_text(original.replace(before, after))
        try:
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pytest",
                    "-x",
                    "-q",
                    "-p",
                    "no:cacheprovider",
                    "tests/unit",
                ],
                cwd=STAGE,
                env={**os.environ, "PYTHONPATH": str(STAGE / "src")},
                capture_output=True,
            )
        finally:
            path.write_text(original)
        outcome.append((what, done.returncode != 0))
    return outcome


def results() -> dict[str, str]:
    out = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"],
        cwd=STAGE,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = {}
    for line in out.splitlines():
        name, _, status = line.strip().rpartition(": ")
        if name:
            found[name] = status
    return found


# mutmut's own diff of each mutant, computed in one process (`mutmut show` per mutant is slow).
SHOW = """
import json, sys
from mutmut.__main__ import find_mutant, get_diff_for_mutant
names = json.load(sys.stdin)
print(json.dumps({n: get_diff_for_mutant(n, path=find_mutant(n).path) for n in names}))
"""


def diffs(names: list[str]) -> dict[str, str]:
    """{mutant: "original line → mutated line"}."""
    out = subprocess.run(
        [sys.executable, "-c", SHOW],
        cwd=STAGE,
        input=json.dumps(names),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = {}
    for name, diff in json.loads(out).items():
        changed = [
            line
            for line in diff.splitlines()
            if line[:1] in "-+" and line[:3] not in ("---", "+++")
        ]
        found[name] = " → ".join(line[1:].strip() for line in changed)
    return found


def report(status: dict[str, str], seconds: float, by_hand: list[tuple[str, bool]]) -> str:
    counts = Counter(status.values())
    total = len(status)
    killed = counts["killed"]
    reasons: dict[str, str] = tomllib.loads(REASONS.read_text()) if REASONS.exists() else {}
    survivors = sorted(n for n, s in status.items() if s != "killed")
    share = killed / total if total else 0.0
    lines = [
        "# Mutation testing",
        "",
        "Generated by `make mutation` (infra/mutation/mutation.py) from mutmut's results: do not",
        "edit by hand. Mutated: `services/consumer/src/consumer/` "
        + ", ".join(f"`{m}`" for m in MUTATED)
        + "; judged by the unit tests that import the consumer, nothing else.",
        "",
        "| mutants | killed | survived | no test | other | killed % | goal | whole run |",
        "|---|---|---|---|---|---|---|---|",
        f"| {total} | {killed} | {counts['survived']} | {counts['no tests']} | "
        f"{total - killed - counts['survived'] - counts['no tests']} | {share:.1%} | "
        f"{GOAL:.0%} | {seconds:.0f} s |",
        "",
    ]
    lines += [
        "## The review's mutations",
        "",
        "mutmut never deletes a statement; these one-line mutations from issue #10 are applied",
        "by hand to the staged copy, one at a time, and must each fail the unit tests.",
        "",
        "| mutation | result |",
        "|---|---|",
        *(f"| {what} | {'killed' if killed else 'SURVIVED'} |" for what, killed in by_hand),
        "",
    ]
    if survivors:
        lines += [
            "## Survivors, and why each is left alive",
            "",
            "The reasons are kept by hand in `infra/mutation/survivors.toml`, keyed by mutant.",
            "",
            "| mutant | status | change | why |",
            "|---|---|---|---|",
        ]
        changes = diffs(survivors)
        for name in survivors:
            why = reasons.get(name, "no reason given: write a test")
            change = changes[name].replace("|", "\\|")
            lines.append(f"| `{name}` | {status[name]} | `{change}` | {why} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    started = time.monotonic()
    stage()
    by_hand = review()
    run()
    status = results()
    seconds = time.monotonic() - started
    REPORT.write_text(report(status, seconds, by_hand))
    killed = sum(s == "killed" for s in status.values())
    print(f"{killed}/{len(status)} mutants killed in {seconds:.0f} s; report in {REPORT}")
    if not status or killed / len(status) < GOAL:
        sys.exit(f"below the goal of {GOAL:.0%} killed")
    if not all(k for _, k in by_hand):
        sys.exit("a mutation from the review survived the unit tests")


if __name__ == "__main__":
    main()
