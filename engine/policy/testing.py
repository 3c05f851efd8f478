"""Policy tests (kind PolicyTest): cases of documents, a request context and a pinned ``now``,
with the outcome each rule must give; per-rule coverage says which rules were seen both
passing and failing."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from engine.documents.config import Config, effective
from engine.documents.loader import LoadedFile, load_file
from engine.documents.model import KINDS, Document, identify
from engine.documents.schemas import SchemaSet
from engine.documents.sourcemap import FieldPath
from engine.errors import ConfigError
from engine.findings import Outcome
from engine.paths import display_path
from engine.policy.evaluation import evaluator_for
from engine.policy.sources import BUILTIN, PACK, Policy, builtin_files, policy_from
from engine.policy.waivers import apply as apply_waivers
from engine.request.approvals import derive
from engine.request.binding import head_only
from engine.request.context import parse_context
from engine.time.instants import parse_instant
from engine.workspace import semantics


@dataclass
class CaseResult:
    path: Path
    line: int
    name: str
    problems: list[str]
    outcomes: dict[str, str]

    @property
    def passed(self) -> bool:
        return not self.problems


COVERAGE_OF: Final = ("local", "builtin", "all")


@dataclass
class TestRun:
    results: list[CaseResult] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)  # the rules coverage counts
    # rule -> expected outcome -> number of cases that expected it and got it
    seen: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    backend: str = ""
    known: frozenset[str] = frozenset()  # every rule of the policies under test

    def covered(self, rule: str) -> bool:
        seen = self.seen.get(rule, {})
        return seen.get("pass", 0) > 0 and seen.get("fail", 0) > 0

    @property
    def coverage(self) -> float:
        if not self.rules:
            return 0.0
        return 100.0 * sum(self.covered(r) for r in self.rules) / len(self.rules)

    @property
    def failed(self) -> list[CaseResult]:
        return [r for r in self.results if not r.passed]


def _test_files(paths: Sequence[Path]) -> list[Path]:
    files: set[Path] = set()
    for path in paths:
        if path.is_dir():
            files.update(
                p
                for p in path.rglob("*")
                if p.suffix in {".yaml", ".yml"}
                and p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        elif path.exists():
            files.add(path)
        else:
            raise ConfigError(f"{path}: no such file or directory")
    return sorted(files)


def collect(
    paths: Sequence[Path],
    schemas: SchemaSet,
    config: Config,
    read_pack: Callable[[str], list[LoadedFile]] | None = None,
) -> tuple[list[Policy], list[Document]]:
    """The policies under test (from the paths, then built-in and shared packs the config
    names whose policies the paths do not replace) and the PolicyTest documents; shared
    packs are read through ``read_pack`` (as changegate.lock pins them)."""
    policies: dict[str, Policy] = {}
    tests: list[Document] = []
    problems: list[str] = []
    for file in _test_files(paths):
        documents, findings = identify(load_file(file))
        problems += [f"{display_path(f.path)}:{f.line}:{f.column}: {f.message}" for f in findings]
        for document in documents:
            if document.kind not in {"Policy", "PolicyTest"}:
                continue
            found = schemas.check(document) + semantics.check(document, config)
            if found:
                problems += [
                    f"{display_path(f.path)}:{f.line}:{f.column}: {f.message}" for f in found
                ]
            elif document.kind == "Policy":
                policies[document.name or ""] = policy_from(document, str(file), config.timezone)
            else:
                tests.append(document)
    for origin in config.policy_sources:
        if origin.startswith(BUILTIN):
            shared = builtin_files(origin.removeprefix(BUILTIN))
        elif origin.startswith(PACK) and read_pack is not None:
            shared = read_pack(origin)
        else:
            continue
        for loaded in shared:
            for document in identify(loaded)[0]:
                if document.kind == "Policy" and document.name not in policies:
                    policies[document.name or ""] = policy_from(document, origin, config.timezone)
    if problems:
        raise ConfigError("invalid policies or policy tests:\n  " + "\n  ".join(problems))
    if not tests:
        raise ConfigError(
            f"no PolicyTest documents in {', '.join(display_path(p) for p in paths)}: "
            "write cases (changegate new PolicyTest NAME)"
        )
    return sorted(policies.values(), key=lambda p: p.name), tests


def run(
    paths: Sequence[Path],
    schemas: SchemaSet,
    config: Config,
    backend: str | None,
    *,
    coverage_of: str = "local",
    read_pack: Callable[[str], list[LoadedFile]] | None = None,
) -> TestRun:
    """Run every case; each judges with ``config`` (the repository's, or the defaults) with
    the test's ``spec.config`` merged over it. Coverage counts the rules of the policies from
    ``paths`` (local), of the built-in and shared packs (builtin), or of both (all)."""
    policies, tests = collect(paths, schemas, config, read_pack)

    def counted(policy: Policy) -> bool:
        builtin = policy.source.startswith((BUILTIN, PACK))
        return coverage_of == "all" or builtin == (coverage_of == "builtin")

    outcome = TestRun(
        rules=sorted(r.id for p in policies if counted(p) for r in p.rules),
        known=frozenset(r.id for p in policies for r in p.rules),
    )
    for test in tests:
        for index, case in enumerate(test.spec["cases"]):
            result = _case(test, index, case, policies, schemas, backend, outcome, config)
            outcome.results.append(result)
    return outcome


def _embedded(test: Document, prefix: tuple[str | int, ...], raw: Any) -> Document | str:
    """A document written inside a test file, or why it is not one."""
    where = test.source.within(prefix).root
    location = f"{display_path(test.path)}:{where.line}"
    if not isinstance(raw, dict) or raw.get("kind") not in KINDS:
        return f"{location}: not a changegate document (kind must be one of {', '.join(KINDS)})"
    name = raw.get("metadata", {}).get("name") if isinstance(raw.get("metadata"), dict) else None
    return Document(
        kind=raw["kind"],
        name=name if isinstance(name, str) else None,
        body=raw,
        path=test.path,
        index=test.index,
        source=test.source.within(prefix),
    )


def _case(
    test: Document,
    index: int,
    case: dict[str, Any],
    policies: list[Policy],
    schemas: SchemaSet,
    backend: str | None,
    run: TestRun,
    repository: Config,
) -> CaseResult:
    base: FieldPath = ("spec", "cases", index)
    result = CaseResult(test.path, test.position(base).line, case["name"], [], {})
    config = Config(path=None, spec=effective(test.spec.get("config"), repository.spec))
    documents, subject = _documents(test, case, base, schemas, config, result.problems)
    previous: Document | str | None = None
    if "previous" in case:
        previous = _embedded(test, (*base, "previous"), case["previous"])
        if isinstance(previous, str):
            result.problems.append(previous)
    if result.problems or subject is None:
        return result
    before = previous.body if isinstance(previous, Document) else None
    if case.get("deleted"):
        # the pull request deletes the subject: gone from the repository, seen as oldObject
        documents = [d for d in documents if d is not subject]
        subject = Document(
            subject.kind, subject.name, before or subject.body, subject.path, subject.index,
            subject.source, deleted=True,
        )  # fmt: skip
    outcomes, messages = _judge(
        test, case, subject, before, documents, policies, config, backend, run
    )
    result.outcomes = outcomes
    _compare(case, outcomes, messages, run, result.problems)
    return result


def _documents(
    test: Document,
    case: dict[str, Any],
    base: FieldPath,
    schemas: SchemaSet,
    config: Config,
    problems: list[str],
) -> tuple[list[Document], Document | None]:
    """The documents of a case (the file's and its own), checked, and its subject."""
    raws: list[tuple[FieldPath, Any]] = [
        (("spec", "documents", i), d) for i, d in enumerate(test.spec.get("documents", ()))
    ]
    raws += [((*base, "documents", i), d) for i, d in enumerate(case["documents"])]
    documents: list[Document] = []
    subject: Document | None = None
    for prefix, raw in raws:
        document = _embedded(test, prefix, raw)
        if isinstance(document, str):
            problems.append(document)
            continue
        for finding in schemas.check(document) + semantics.check(document, config):
            problems.append(
                f"{display_path(finding.path)}:{finding.line}: {document.kind} "
                f"{document.name}: {finding.message}"
            )
        documents.append(document)
        if prefix[:3] == base and (
            case.get("subject") == document.name or (subject is None and "subject" not in case)
        ):
            subject = document
    if subject is None:
        problems.append(f"the case has no document named {case.get('subject')!r}")
    return documents, subject


def _judge(
    test: Document,
    case: dict[str, Any],
    subject: Document,
    before: Any,
    documents: list[Document],
    policies: list[Policy],
    config: Config,
    backend: str | None,
    run: TestRun,
) -> tuple[dict[str, str], dict[str, str]]:
    """The subject's outcome and message per rule, waivers applied."""
    context = parse_context(case.get("context", {"event": "local"}))
    now = parse_instant(case.get("now") or test.spec["now"])
    evaluator = evaluator_for(
        policies=policies,
        config=config,
        documents=[d for d in documents if d.kind != "Waiver"],
        context=context,
        approvals=derive(context, config.spec, head_only(context)),
        now=now,
        backend=backend,
        old_object=lambda document: before if document is subject else None,
        operation=lambda document: _operation(document, before),
    )
    run.backend = evaluator.backend.name
    findings, records = evaluator.evaluate([subject], changed=lambda _: False)
    findings = apply_waivers(
        findings,
        {(subject.kind, subject.name): subject.labels},
        [d for d in documents if d.kind == "Waiver"],
        now=now,
        zone_name=config.timezone,
        judged_all=False,
    )
    outcomes = {r.rule: str(r.outcome) for r in records}
    messages: dict[str, str] = {}
    for finding in findings:
        if finding.kind == subject.kind and finding.name == subject.name:
            outcomes[finding.rule] = str(finding.outcome)
            messages[finding.rule] = finding.message
    return outcomes, messages


def _compare(
    case: dict[str, Any],
    outcomes: dict[str, str],
    messages: dict[str, str],
    run: TestRun,
    problems: list[str],
) -> None:
    """What the case expected against what happened; counts coverage for what matched."""
    for rule, expected in case["expect"].items():
        actual = outcomes.get(rule, str(Outcome.SKIP))
        if rule not in run.known and rule not in outcomes:
            problems.append(f"{rule}: no such rule among the policies under test")
        elif actual != expected:
            why = f" ({messages[rule]})" if rule in messages else ""
            problems.append(f"{rule}: expected {expected}, got {actual}{why}")
        else:
            seen = run.seen[rule]
            seen[expected] = seen.get(expected, 0) + 1
    for rule, words in case.get("messages", {}).items():
        if words not in messages.get(rule, ""):
            problems.append(
                f"{rule}: the message should contain {words!r}, it is "
                f"{messages.get(rule, '(no finding)')!r}"
            )


def _operation(document: Document, before: Any) -> str:
    """What the case's pull request does to its subject: deletes it, or updates what was
    ``previous``, or creates it."""
    if document.deleted:
        return "delete"
    return "update" if before is not None else "create"
