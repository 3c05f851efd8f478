"""Five built-in rules in CEL, as changegate evaluates them, against the same five written
directly in Python, over the same loaded documents (in this process).

The CEL side is the rules as policies/recommended has them today: their expressions, their
policies' match and the variables they read, copied from the packs when the benchmark runs.
The Python side reads the same fields; both must find the same failures, or the figure is
not printed.
"""

from __future__ import annotations

import copy
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from timing import in_process

ROOT = Path(__file__).resolve().parent.parent
CHOSEN = {
    "change-completeness": ("rollback-plan", "standard-template"),
    "release-readiness": ("exit-criteria", "blocking-bugs"),
    "release-versioning": ("semver-bump",),
}
RULES = [f"{policy}/{rule}" for policy, rules in CHOSEN.items() for rule in rules]
_VARIABLE = re.compile(r"variables\.([A-Za-z_][\w-]*)")


def _policy(name: str, rules: tuple[str, ...]) -> dict[str, Any]:
    """The pack's policy with only the chosen rules and the variables they read."""
    pack = yaml.safe_load((ROOT / "policies" / "recommended" / f"{name}.yaml").read_text())
    body = copy.deepcopy(pack)
    spec = body["spec"]
    spec["rules"] = [r for r in spec["rules"] if r["name"] in rules]
    wanted = set(_VARIABLE.findall(yaml.safe_dump(spec["rules"])))
    variables = spec.get("variables", [])
    while True:  # the variables the wanted ones read, too
        more = {
            m for v in variables if v["name"] in wanted for m in _VARIABLE.findall(v["expression"])
        }
        if more <= wanted:
            break
        wanted |= more
    spec["variables"] = [v for v in variables if v["name"] in wanted]
    return body


def prepare(repo: Path, target: Path) -> Path:
    """A copy of the repository whose config loads only the five rules."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(repo, target, ignore=shutil.ignore_patterns(".git"))
    folder = target / "bench-policies"
    folder.mkdir()
    for name, rules in CHOSEN.items():
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(_policy(name, rules), sort_keys=False))
    config = target / "changegate.yaml"
    data = yaml.safe_load(config.read_text())
    data["spec"]["policies"] = ["./bench-policies"]
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    return target


def compare(repo: Path, runs: int) -> tuple[float, float, int]:
    """CEL seconds, Python seconds (median wall of ``runs``), and the failures both found."""
    from engine.judging.judge import Judge, Options
    from engine.request.context import RequestContext
    from engine.workspace.inventory import Workspace

    workspace = Workspace.open(repo=repo, config_file=None)
    now = datetime(2024, 6, 1, tzinfo=UTC)
    with Judge(workspace, RequestContext(), now, Options(backend="cel-expr-python")) as judge:
        documents = list(judge.inventory.valid)
        bodies = [d.body for d in documents]  # decoded before timing either side
        evaluator = judge.evaluator
        found: list[Any] = []

        def cel() -> None:
            found[:] = evaluator.evaluate(documents, changed=lambda _: False)[0]

        cel_seconds, _ = in_process(runs, cel)
        template_of = {t["name"]: t for t in workspace.config.spec["changeTemplates"]}
        python_failures: list[int] = []
        python_seconds, _ = in_process(
            runs, lambda: python_failures.append(python(bodies, template_of))
        )
    cel_failures = sum(1 for f in found if f.rule in RULES and f.outcome == "fail")
    if cel_failures != python_failures[-1]:
        raise SystemExit(
            f"CEL found {cel_failures} failures and Python {python_failures[-1]}: the Python "
            "rules no longer match the packs; update bench/celfloor.py"
        )
    return cel_seconds, python_seconds, cel_failures


_RANK = {"low": 1, "medium": 2, "high": 3, "critical": 4}


def python(bodies: list[dict[str, Any]], templates: dict[str, Any]) -> int:
    """The five rules in plain Python: the failures they find."""
    released: dict[str, list[tuple[int, ...]]] = {}
    for body in bodies:
        spec = body["spec"]
        if body["kind"] == "ReleasePlan" and spec.get("status") == "released":
            released.setdefault(_key(spec), []).append(_version(spec["version"]))
    failures = 0
    for body in bodies:
        spec = body["spec"]
        if body["kind"] == "ChangeRequest":
            failures += _change(spec, templates)
        elif body["kind"] == "ReleasePlan":
            failures += _release(spec, released)
    return failures


def _change(spec: dict[str, Any], templates: dict[str, Any]) -> int:
    failures = 0
    if spec["type"] != "standard" and not spec.get("rollback"):
        failures += 1  # rollback-plan
    if spec["type"] == "standard":  # standard-template
        template = templates.get(spec.get("template", ""))
        ok = template is not None and (
            "maxRisk" not in template or _RANK[spec["risk"]] <= _RANK[template["maxRisk"]]
        )
        failures += not ok
    return failures


def _release(spec: dict[str, Any], released: dict[str, list[tuple[int, ...]]]) -> int:
    failures = 0
    if spec.get("status", "planned") in {"planned", "in-progress"}:
        criteria = spec.get("exitCriteria", [])
        failures += any("check" not in c and not c.get("done") for c in criteria)  # exit-criteria
        fixes = spec.get("scope", {}).get("fixes", [])
        failures += any(  # blocking-bugs
            f["priority"] in {"critical", "high"}
            and f["status"] not in {"fixed", "verified", "wont-fix"}
            for f in fixes
        )
    version = _version(spec["version"])  # semver-bump
    older = [v for v in released.get(_key(spec), []) if v < version]
    breaking = len(spec.get("scope", {}).get("breakingChanges", []))
    if breaking and spec["type"] != "major":
        return failures + 1
    if "previousVersion" in spec:
        older = [_version(spec["previousVersion"])]
    if older:
        previous = max(older)
        bump = (
            "major" if version[0] != previous[0]
            else "minor" if version[1] != previous[1]
            else "patch" if version[2] != previous[2] else "none"
        )  # fmt: skip
        failures += bump != spec["type"]
    return failures


def _key(spec: dict[str, Any]) -> str:
    return str(spec["service"]) if "service" in spec else ",".join(sorted(spec["services"]))


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("-")[0].split("+")[0].split("."))
