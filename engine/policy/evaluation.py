"""Evaluating compiled policies against documents: every rule, every outcome, fail closed.

Each document is converted once (one activation) and reused by every policy without
variables; a policy with variables evaluates them in order and binds them for its rules.
An evaluation error is an ``error`` outcome that denies, with the CEL message and the rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final

from engine import cel, rules
from engine.cel import Backend, EvalError
from engine.documents.config import Config
from engine.documents.model import Document
from engine.documents.sourcemap import FieldPath
from engine.findings import Evaluation, Finding, Outcome, Severity
from engine.heap import collector_paused
from engine.policy.library import Library
from engine.policy.sources import DEFAULT_OPERATIONS, CompiledPolicy, Policy, Rule, compile_policies
from engine.request.approvals import ApprovalSet
from engine.request.context import RequestContext
from engine.time.instants import format_instant
from engine.workspace.inventory import Unread

# The CEL variables every policy sees (SPEC §4).
CEL_VARIABLES: Final = {
    "object": cel.CelType.DYN,  # null for a document the pull request deletes
    "oldObject": cel.CelType.DYN,
    "docs": cel.CelType.MAP,
    "request": cel.CelType.MAP,
    "approvals": cel.CelType.LIST,
    "checks": cel.CelType.MAP,
    "config": cel.CelType.MAP,
    "variables": cel.CelType.MAP,
    # what the pull request does to the document: create, update, delete, or unknown (no base
    # revision to compare with); '' where no event changes documents
    "operation": cel.CelType.STRING,
}


def plain(value: Any) -> Any:
    """A CEL result as a JSON-like value, identical for both backends: timestamps become RFC
    3339 strings and durations ``<seconds>s`` strings (what ``timestamp()`` and ``duration()``
    read back)."""
    if isinstance(value, datetime):
        return format_instant(value)
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
        return f"{int(seconds) if seconds == int(seconds) else seconds}s"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


@dataclass(frozen=True)
class Constants:
    """The per-run CEL variables, the same for every document."""

    request: dict[str, Any]
    approvals: list[dict[str, Any]]
    checks: dict[str, Any]
    config: dict[str, Any]


class Evaluator:
    def __init__(
        self,
        policies: Sequence[CompiledPolicy],
        backend: Backend,
        constants: Constants,
        *,
        now: datetime,
        docs: Callable[[], dict[str, dict[str, Any]]],
        old_object: Callable[[Document], Any],
        operation: Callable[[Document], str] | None = None,
    ) -> None:
        self.policies = policies
        self.backend = backend
        self.constants = constants
        self.now = now
        self._docs_source = docs
        self._docs: dict[str, dict[str, Any]] | None = None
        self._old_object = old_object
        self._operation = operation or _operation_unknown
        self.event = str(constants.request["event"])

    def _docs_value(self) -> dict[str, dict[str, Any]]:
        if self._docs is None:
            self._docs = self._docs_source()
        return self._docs

    def applicable(self, document: Document) -> list[CompiledPolicy]:
        found = [
            p
            for p in self.policies
            if document.kind in p.policy.kinds
            and (p.policy.events is None or self.event in p.policy.events)
        ]
        if document.deleted:
            return [p for p in found if p.policy.judges("delete")]
        if all(p.policy.operations >= DEFAULT_OPERATIONS for p in found):
            return found  # every policy judges what exists: no need to ask create or update
        operation = self._operation(document)
        return [p for p in found if p.policy.judges(operation)]

    def evaluate(
        self, documents: Iterable[Document], *, changed: Callable[[Document], bool]
    ) -> tuple[list[Finding], list[Evaluation]]:
        findings: list[Finding] = []
        records: list[Evaluation] = []
        # What judging makes (records, findings, values handed to CEL) lives until the report
        # is written: the collector would walk it again and again for nothing.
        with collector_paused():
            for document in documents:
                judged = self._document(document, findings, records)
                if not judged and changed(document):
                    findings.append(
                        document.finding(
                            rules.UNMATCHED,
                            f"no policy rule judged this {document.kind} on a {self.event} "
                            f"event: add a policy matching kind {document.kind}, or this "
                            "change is not governed",
                            severity=Severity.WARN,
                        )
                    )
        return findings, records

    def _document(
        self, document: Document, findings: list[Finding], records: list[Evaluation]
    ) -> bool:
        """Evaluate every applicable rule; True if any rule ran (passed, failed or errored)."""
        policies = self.applicable(document)
        if not policies:
            return False
        values: dict[str, Any] = {
            "object": None if document.deleted else document.body,
            "request": self.constants.request,
            "approvals": self.constants.approvals,
            "checks": self.constants.checks,
            "config": self.constants.config,
            "variables": {},
            "oldObject": None,
            "docs": {},
            "operation": "",
        }
        if document.deleted:
            values["oldObject"] = document.body
        elif any(p.uses_old for p in policies):
            values["oldObject"] = self._old_object(document)
        if any(p.uses_operation for p in policies):
            values["operation"] = self._operation(document)
        if any(p.uses_docs for p in policies):
            values["docs"] = self._docs_value()
        base = self.backend.bind(values)
        judged = False
        for compiled in policies:
            judged |= self._policy(compiled, document, values, base, findings, records)
        return judged

    def _policy(
        self,
        compiled: CompiledPolicy,
        document: Document,
        values: dict[str, Any],
        base: Any,
        findings: list[Finding],
        records: list[Evaluation],
    ) -> bool:
        policy = compiled.policy
        activation = base
        if policy.when:
            verdict = self._run(compiled.programs[("spec", "match", "when")], activation)
            if isinstance(verdict, EvalError) or not isinstance(verdict, bool):
                problem = _not_boolean("match.when", verdict)
                for rule in policy.rules:
                    self._record_error(rule, document, problem, findings, records)
                return True
            if not verdict:
                for rule in policy.rules:
                    records.append(self._skip(rule, document))
                return False
        if policy.variables:
            # Each binding converts the document for CEL again, so the variables are bound
            # once, after the last, and before any that reads the ones computed so far.
            computed: dict[str, Any] = {}
            for i, (name, _) in enumerate(policy.variables):
                if computed and compiled.reads_variables[i]:
                    activation = self.backend.bind({**values, "variables": dict(computed)})
                result = self._run(
                    compiled.programs[("spec", "variables", i, "expression")], activation
                )
                if isinstance(result, EvalError):
                    problem = f"variable {name}: {result.message}"
                    for rule in policy.rules:
                        self._record_error(rule, document, problem, findings, records)
                    return True
                computed[name] = plain(result)
            activation = self.backend.bind({**values, "variables": computed})
        judged = False
        for rule in policy.rules:
            judged |= self._rule(compiled, rule, document, activation, findings, records)
        return judged

    def _rule(
        self,
        compiled: CompiledPolicy,
        rule: Rule,
        document: Document,
        activation: Any,
        findings: list[Finding],
        records: list[Evaluation],
    ) -> bool:
        base: FieldPath = ("spec", "rules", rule.index)
        if rule.effective_until is not None and self.now >= rule.effective_until:
            records.append(self._skip(rule, document))
            return False
        if rule.when:
            applies = self._run(compiled.programs[(*base, "when")], activation)
            if isinstance(applies, EvalError) or not isinstance(applies, bool):
                self._record_error(rule, document, _not_boolean("when", applies), findings, records)
                return True
            if not applies:
                records.append(self._skip(rule, document))
                return False
        result = self._run(compiled.programs[(*base, "expression")], activation)
        if isinstance(result, EvalError) or not isinstance(result, bool):
            self._record_error(
                rule, document, _not_boolean("expression", result), findings, records
            )
            return True
        severity = self._severity(compiled, rule, activation)
        if not isinstance(severity, Severity):  # the severity expression failed: fail closed
            self._record_error(rule, document, severity, findings, records)
            return True
        announced = rule.effective_from is not None and self.now < rule.effective_from
        if announced and severity is Severity.DENY:
            severity = Severity.WARN  # announced but not yet enforced
        outcome = Outcome.PASS if result else Outcome.FAIL
        records.append(
            Evaluation(rule.id, outcome, severity, document.kind, document.name, document.path)
        )
        if not result:
            message = self._message(compiled, rule, activation)
            if rule.effective_from is not None and self.now < rule.effective_from:
                message += f" (enforced from {format_instant(rule.effective_from)})"
            findings.append(document.finding(rule.id, message, field=rule.field, severity=severity))
        return True

    def _severity(self, compiled: CompiledPolicy, rule: Rule, activation: Any) -> Severity | str:
        if not rule.severity_expression:
            return rule.severity
        base: FieldPath = ("spec", "rules", rule.index, "severityExpression")
        value = self._run(compiled.programs[base], activation)
        if isinstance(value, str) and value in {s.value for s in Severity}:
            return Severity(value)
        shown = value.message if isinstance(value, EvalError) else repr(value)
        return f"severityExpression gave {shown}, not 'deny', 'warn' or 'info'"

    def _message(self, compiled: CompiledPolicy, rule: Rule, activation: Any) -> str:
        if not rule.message_expression:
            return rule.message
        base: FieldPath = ("spec", "rules", rule.index, "messageExpression")
        value = self._run(compiled.programs[base], activation)
        if isinstance(value, str) and value:
            return value
        shown = value.message if isinstance(value, EvalError) else f"gave {value!r}"
        return f"{rule.message or f'rule {rule.id} failed'} (messageExpression failed: {shown})"

    def _run(self, program: Any, activation: Any) -> Any:
        return self.backend.evaluate(program, activation)

    @staticmethod
    def _skip(rule: Rule, document: Document) -> Evaluation:
        return Evaluation(
            rule.id, Outcome.SKIP, rule.severity, document.kind, document.name, document.path
        )

    @staticmethod
    def _record_error(
        rule: Rule,
        document: Document,
        problem: str,
        findings: list[Finding],
        records: list[Evaluation],
    ) -> None:
        # An error denies whatever the rule's severity: changegate could not decide.
        records.append(
            Evaluation(
                rule.id, Outcome.ERROR, Severity.DENY, document.kind, document.name, document.path
            )
        )
        findings.append(
            document.finding(
                rule.id,
                f"rule {rule.id} could not be evaluated, so changegate denies: {problem}",
                field=rule.field,
                severity=Severity.DENY,
                outcome=Outcome.ERROR,
            )
        )


def _operation_unknown(document: Document) -> str:
    return "delete" if document.deleted else "unknown"


def _not_boolean(what: str, value: Any) -> str:
    if isinstance(value, EvalError):
        return f"{what}: {value.message}"
    return f"{what} gave {type(value).__name__} {value!r}, not true or false"


def evaluator_for(
    *,
    policies: Sequence[Policy],
    config: Config,
    documents: Sequence[Document],
    context: RequestContext,
    approvals: ApprovalSet,
    now: datetime,
    backend: str | None,
    changed: frozenset[tuple[str, str]] | None = None,
    old_object: Callable[[Document], Any] = lambda document: None,
    operation: Callable[[Document], str] | None = None,
    library: Library | None = None,
    unread: Sequence[Unread] = (),
) -> Evaluator:
    """An evaluator over these documents: the CEL functions see exactly them (and know what
    ``unread`` says could not be read)."""
    if library is None:
        library = Library(
            now=now,
            config=config,
            documents=documents,
            context=context,
            approvals=approvals,
            changed=changed,
            unread=unread,
        )
    runtime = cel.create(backend, CEL_VARIABLES, library.functions())

    def docs() -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for document in documents:
            out.setdefault(document.kind, {})[document.name or ""] = document.body
        return out

    constants = Constants(
        request=context.request(now),
        approvals=[a.as_cel() for a in approvals.approvals],
        checks=dict(context.checks),
        config=config.spec,
    )
    return Evaluator(
        compile_policies(policies, runtime),
        runtime,
        constants,
        now=now,
        docs=docs,
        old_object=old_object,
        operation=operation,
    )
