"""The README and docs/ stay true to the code: make targets, settings, log events, links and the
bench figures are read from the code itself, so what another change adds is caught here too."""

from __future__ import annotations

import ast
import json
import re
import tomllib
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench import report

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
REFERENCE = ROOT / "docs/reference.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]
PY_SOURCES = sorted([*ROOT.glob("services/*/src/**/*.py"), *ROOT.glob("infra/*/src/**/*.py")])
SETTINGS_FILES = sorted(
    [*ROOT.glob("services/*/src/*/settings.py"), *ROOT.glob("infra/*/src/*/settings.py")]
)
# environs' parsers: env.str("NAME", ...), env.int(...), ...
ENV_PARSERS = {"str", "int", "float", "bool", "list", "dict", "decimal", "json", "path"}
SETTING = re.compile(r"[A-Z][A-Z0-9_]*")
# A constant such as "KAFKA_CLIENT_" names a family of settings, documented as `KAFKA_CLIENT_*`.
FAMILY = re.compile(r"[A-Z][A-Z0-9_]*_")


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def fenced_blocks(text: str) -> list[str]:
    return re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.M | re.S)


def prose(text: str) -> str:
    """The text without its fenced code blocks."""
    return re.sub(r"^```[^\n]*\n.*?^```", "", text, flags=re.M | re.S)


def inline_code(text: str) -> list[str]:
    return re.findall(r"`([^`\n]+)`", prose(text))


def section(text: str, heading: str) -> str:
    """From `heading` to the next heading of the same level."""
    level = heading.split(" ", 1)[0]
    start = text.index(f"\n{heading}\n")
    end = text.find(f"\n{level} ", start + len(heading) + 2)
    return text[start : end if end != -1 else len(text)]


def table_rows(text: str) -> Iterator[list[str]]:
    """The cells of every table row that is not a header separator."""
    for line in text.splitlines():
        if line.startswith("|") and not re.match(r"^\|[\s:|-]+\|$", line):
            yield [cell.strip() for cell in line.strip("|").split("|")]


# ---------------------------------------------------------------------------- make targets


def makefile_targets() -> set[str]:
    return set(re.findall(r"^([a-z][a-z0-9-]*):(?!=)", (ROOT / "Makefile").read_text(), re.M))


def public_targets() -> set[str]:
    """The targets `make help` lists: those with a `## ` description (not internal steps)."""
    return set(re.findall(r"^([a-z][a-z0-9-]*):[^=\n]*## ", (ROOT / "Makefile").read_text(), re.M))


def make_commands(text: str) -> set[str]:
    """The targets of every `make X` in the code of a page (code blocks and inline code)."""
    code = [*fenced_blocks(text), *inline_code(text)]
    return {t for c in code for t in re.findall(r"(?:^|[\s;&|(])make\s+([a-z][a-z0-9-]*)", c)}


@pytest.mark.parametrize("doc", DOCS, ids=rel)
def test_every_make_target_named_in_the_docs_exists(doc: Path) -> None:
    assert make_commands(doc.read_text()) - makefile_targets() == set()


def test_the_readme_tables_every_make_target() -> None:
    text = section(README.read_text(), "## Make targets")
    tabled = {m.group(1) for row in table_rows(text) if (m := re.match(r"`make ([^`]+)`", row[0]))}
    assert tabled == public_targets()


# -------------------------------------------------------------------------------- settings


class Reads(ast.NodeVisitor):
    """Per function of one module: the settings it reads and the functions it calls."""

    def __init__(self, module: ast.Module) -> None:
        self.families = {
            target.id: node.value.value
            for node in module.body
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
            for target in node.targets
            if isinstance(target, ast.Name)
            and isinstance(node.value.value, str)
            and FAMILY.fullmatch(node.value.value)
        }
        self.reads: dict[str, set[str]] = {}
        self.calls: dict[str, set[str]] = {}
        self.function = ""
        self.visit(module)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        outer, self.function = self.function, node.name
        self.reads.setdefault(node.name, set())
        self.calls.setdefault(node.name, set())
        self.generic_visit(node)
        self.function = outer

    def visit_Call(self, node: ast.Call) -> None:
        f = node.func
        if (
            isinstance(f, ast.Attribute)
            and isinstance(f.value, ast.Name)
            and f.value.id == "env"
            and f.attr in ENV_PARSERS
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            self.reads[self.function].add(node.args[0].value)
        elif isinstance(f, ast.Name) and self.function:
            self.calls[self.function].add(f.id)
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in self.families and self.function:
            self.reads[self.function].add(self.families[node.id] + "*")


@cache
def settings_modules() -> dict[Path, Reads]:
    return {path: Reads(ast.parse(path.read_text())) for path in SETTINGS_FILES}


def read_by(path: Path) -> set[str]:
    """Every setting the module at `path` reads, through the functions it calls as well (its
    own, or those it imports from another settings module, e.g. playground.settings)."""
    modules = settings_modules()
    todo = [(path, name) for name in modules[path].reads]
    seen: set[tuple[Path, str]] = set()
    while todo:
        where, name = todo.pop()
        if (where, name) in seen:
            continue
        seen.add((where, name))
        for called in modules[where].calls[name]:
            if called in modules[where].reads:
                todo.append((where, called))
            else:
                todo += [(p, called) for p, m in modules.items() if called in m.reads]
    return set().union(*(modules[where].reads[name] for where, name in seen))


def host_tool_settings() -> set[str]:
    """What the host tools' options read: click's envvar= and playground.cli's host_option()."""
    found = set()
    for path in PY_SOURCES:
        text = path.read_text()
        found |= set(re.findall(r'envvar="([A-Z][A-Z0-9_]*)"', text))
        found |= set(re.findall(r'host_option\(\s*"([A-Z][A-Z0-9_]*)"', text))
    return found


def settings_in_code() -> set[str]:
    return set().union(*(read_by(p) for p in SETTINGS_FILES)) | host_tool_settings()


def settings_in_reference() -> set[str]:
    """The names in the "Variable" column of every table under "Settings"."""
    text = section(REFERENCE.read_text(), "## Settings")
    names = set()
    for table in re.split(r"\n(?!\|)", text):
        rows = list(table_rows(table))
        if not rows or "Variable" not in rows[0]:
            continue
        column = rows[0].index("Variable")
        for row in rows[1:]:
            found = re.findall(r"`([^`]+)`", row[column])
            names |= {name for name in found if SETTING.fullmatch(name.rstrip("*"))}
    return names


def words_of_the_code() -> set[str]:
    """Every upper-case word in the code, scripts, Makefile and compose.yaml."""
    files = [
        *PY_SOURCES,
        *[p for p in ROOT.glob("infra/**/*") if p.is_file() and p.suffix != ".py"],
        ROOT / "Makefile",
        ROOT / "compose.yaml",
        ROOT / "Dockerfile",
    ]
    return {w for f in files for w in re.findall(r"[A-Z][A-Z0-9_]+", f.read_text())}


def test_every_setting_the_code_reads_is_in_the_reference() -> None:
    assert settings_in_code() - settings_in_reference() == set()


def test_every_setting_in_the_reference_is_used() -> None:
    code, used = settings_in_code(), words_of_the_code()
    unused = {
        name
        for name in settings_in_reference()
        if name not in code and (name.endswith("*") or name not in used)
    }
    assert unused == set()


def compose_services() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = yaml.safe_load((ROOT / "compose.yaml").read_text())[
        "services"
    ]
    return services


def console_scripts() -> dict[str, str]:
    """Each console script of the workspace and the package whose `cli` it runs."""
    scripts = {}
    # The workspace's members only: `make mutation` leaves a staged pyproject.toml in build/.
    for path in [*ROOT.glob("services/*/pyproject.toml"), *ROOT.glob("infra/*/pyproject.toml")]:
        for name, target in tomllib.loads(path.read_text())["project"].get("scripts", {}).items():
            scripts[name] = target.split(".", 1)[0]
    return scripts


def service_settings() -> Iterator[tuple[str, Path]]:
    """Each Compose service that runs one of our services with settings, and those settings."""
    packages = {p.parent.name: p for p in SETTINGS_FILES}
    scripts = console_scripts()
    for name, service in compose_services().items():
        command = service.get("command") or []
        package = scripts.get(command[0]) if command else None
        if package in packages:
            yield name, packages[package]


def test_the_services_with_settings_are_found() -> None:
    assert {name for name, _ in service_settings()} >= {"provision", "producer", "consumer-bravo"}


@pytest.mark.parametrize(
    ("service", "settings"), list(service_settings()), ids=[s for s, _ in service_settings()]
)
def test_compose_passes_every_setting_its_service_reads(service: str, settings: Path) -> None:
    spec = compose_services()[service]
    reads = read_by(settings)
    passed = set(spec.get("environment", {}))
    assert {name for name in reads if not name.endswith("*")} - passed == set()
    if any(name.endswith("*") for name in reads):  # KAFKA_CLIENT_*: from kafka-client.env
        files = [f["path"] if isinstance(f, dict) else f for f in spec.get("env_file", [])]
        assert "kafka-client.env" in files


# ------------------------------------------------------------------------------ log events


def events_in_code() -> tuple[set[str], set[str]]:
    """The events the code logs (`"event": "..."`), and patterns for those built by f-string
    whose parts could not be found (`partitions_{what}` becomes partitions_assigned, ...)."""
    names: set[str] = set()
    patterns: set[str] = set()
    for path in PY_SOURCES:
        module = ast.parse(path.read_text())
        # A constant event anywhere (a function's log call, or a module's table of them).
        for node in ast.walk(module):
            if not isinstance(node, ast.Dict):
                continue
            for key, value in zip(node.keys, node.values, strict=True):
                event = isinstance(key, ast.Constant) and key.value == "event"
                if event and isinstance(value, ast.Constant) and isinstance(value.value, str):
                    names.add(value.value)
        # An f-string event: its parts are looked for in the function that builds it.
        for function in ast.walk(module):
            if not isinstance(function, ast.FunctionDef):
                continue
            for node in ast.walk(function):
                if not isinstance(node, ast.Dict):
                    continue
                for key, value in zip(node.keys, node.values, strict=True):
                    if not (isinstance(key, ast.Constant) and key.value == "event"):
                        continue
                    if isinstance(value, ast.JoinedStr):
                        expanded = _expand(value, function, module)
                        names |= expanded
                        if not expanded:
                            patterns.add(_pattern(value))
    return names, patterns


def _pattern(text: ast.JoinedStr) -> str:
    return "".join(
        re.escape(str(v.value)) if isinstance(v, ast.Constant) else "[a-z0-9_]+"
        for v in text.values
    )


def _expand(text: ast.JoinedStr, function: ast.FunctionDef, module: ast.Module) -> set[str]:
    """An f-string of one parameter, with every literal the module passes for it."""
    holes = [v for v in text.values if isinstance(v, ast.FormattedValue)]
    if len(holes) != 1 or not isinstance(holes[0].value, ast.Name):
        return set()
    params = [a.arg for a in function.args.args]
    if holes[0].value.id not in params:
        return set()
    position = params.index(holes[0].value.id) - (1 if params[:1] == ["self"] else 0)
    found = set()
    for call in ast.walk(module):
        if not isinstance(call, ast.Call):
            continue
        f = call.func
        called = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
        if called == function.name and len(call.args) > position:
            arg = call.args[position]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.add(
                    "".join(
                        arg.value if isinstance(v, ast.FormattedValue) else str(v.value)
                        for v in text.values
                        if isinstance(v, ast.Constant | ast.FormattedValue)
                    )
                )
    return found


def events_in_docs() -> set[str]:
    return {c for doc in DOCS for c in inline_code(doc.read_text())}


def events_in_log_contract() -> set[str]:
    text = section(REFERENCE.read_text(), "## Log contract")
    rows = [row for row in table_rows(text) if len(row) > 1 and row[1] != "`event`"]
    return {name for row in rows for name in re.findall(r"`([a-z][a-z0-9_]*)`", row[1])}


def test_events_are_found_in_the_code() -> None:
    names, _ = events_in_code()
    assert {"batch_processed", "partitions_assigned", "partitions_lost"} <= names


def test_every_event_the_code_logs_is_documented() -> None:
    names, patterns = events_in_code()
    documented = events_in_docs()
    assert names - documented == set()
    for pattern in patterns:
        assert any(re.fullmatch(pattern, d) for d in documented), pattern


def test_every_event_in_the_log_contract_is_logged_by_the_code() -> None:
    names, patterns = events_in_code()
    unknown = {
        e
        for e in events_in_log_contract()
        if e not in names and not any(re.fullmatch(p, e) for p in patterns)
    }
    assert unknown == set()


def test_the_log_contract_tables_every_event() -> None:
    names, _ = events_in_code()
    assert names - events_in_log_contract() == set()


# ----------------------------------------------------------------------------------- links


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(doc: Path) -> set[str]:
    found: set[str] = set()
    if doc.suffix != ".md":
        return found
    for line in prose(doc.read_text()).splitlines():
        if m := re.match(r"^#{1,6} (.+)$", line):
            base = slug(m.group(1))
            name, n = base, 0
            while name in found:
                n += 1
                name = f"{base}-{n}"
            found.add(name)
    return found


@pytest.mark.parametrize("doc", DOCS, ids=rel)
def test_every_relative_link_points_to_a_file_and_heading_that_exist(doc: Path) -> None:
    broken = []
    for link in re.findall(r"\]\(([^)\s]+)\)", prose(doc.read_text())):
        if re.match(r"^[a-z][a-z0-9+.-]*:", link):
            continue  # https:, mailto: ...
        path, _, anchor = link.partition("#")
        target = (doc.parent / path).resolve() if path else doc
        if not target.exists() or (anchor and anchor not in anchors(target)):
            broken.append(link)
    assert broken == []


def test_the_slugs_are_githubs() -> None:
    assert slug("Fault drills: `make chaos`") == "fault-drills-make-chaos"
    assert slug("Host tools: watch, chaos, bench") == "host-tools-watch-chaos-bench"
    assert slug("🛰️ Kafka consumer-group playground") == "-kafka-consumer-group-playground"


# ----------------------------------------------------------------------------- bench figures


def test_the_bench_figures_are_rendered_from_the_results() -> None:
    results = json.loads((ROOT / "docs/bench/results.json").read_text())
    doc = (ROOT / "docs/bench.md").read_text()
    assert report.render_doc(doc, results) == doc, (
        "docs/bench.md's figures differ from docs/bench/results.json: they are written by "
        "`make bench`, never by hand"
    )


def test_the_bench_figures_need_their_markers() -> None:
    results = json.loads((ROOT / "docs/bench/results.json").read_text())
    with pytest.raises(report.DocError):
        report.render_doc("# no markers here\n", results)
