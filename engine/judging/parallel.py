"""Judging a large repository on several cores.

Each worker process (forked, so it shares the run's config, context, approvals and policies)
loads, validates and judges a share of the files: every n-th file, so that each share holds
as many of each folder's documents (and kinds, whose rules cost differently) as the others.
File order is path order (``Workspace.files`` sorts by it), so the parent restores it by path.
Documents never cross processes: the workers exchange only what cross-document checks need
(release plans, and the name, target and schedule of change requests), and the parent
compares names across shares and tells every worker what no share could read (a window or
incident that is unknown in one share leaves every share's questions about time and budgets
unanswered).
Moving whole documents between processes costs more than judging them, which is why.

Used only where it pays and is safe: Linux (fork), at least two cores, thousands of files,
every document judged, and no policy reading ``docs`` (that needs every document at hand).
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, Final, TypeVar

from engine.documents.model import Document, duplicate_message, schema_rule
from engine.documents.sourcemap import Position, SourceMap
from engine.findings import Finding
from engine.heap import collector_paused
from engine.judging.packed import Evaluations, Packed
from engine.paths import display_path
from engine.policy.evaluation import Evaluator
from engine.workspace.discovery import Found
from engine.workspace.inventory import (
    READ_ACROSS,
    Unread,
    Workspace,
    in_order,
    inventory_rules,
    unread,
)

_S = TypeVar("_S")
_T = TypeVar("_T")
MAX_WORKERS: Final = 4
PARALLEL_FROM: Final = 2_000  # files; below this, starting processes costs more than it saves


class WorkerError(Exception):
    """A worker process failed: a bug, not the user's mistake; it carries the traceback."""


@dataclass(frozen=True)
class Plan:
    """What the workers need of a run, as values: the workspace to load from, which paths
    are judged, and how to build an evaluator over a set of documents."""

    workspace: Workspace
    is_target: Callable[[Path], bool]
    # an evaluator over documents (a share and the others' index), told what no share could
    # read (path, kind, why)
    evaluator: Callable[[Sequence[Document], Sequence[Unread]], Evaluator]


# for a document of a worker: (its path and index), where the other of its name is (path,
# line, name), and whether it is the first of them
_Duplicate = tuple[tuple[str, int], str, int, str, bool]


@dataclass(frozen=True)
class Loaded:
    """Phase one, from a worker: what the parent needs to compare and share."""

    names: list[tuple[str, str, str, int, int]]  # kind, name, path, index in file, line
    findings: list[Finding]
    unread: list[Unread]  # what cross-document questions cannot see
    documents: int
    rules: set[str]


@dataclass(frozen=True)
class Judged:
    """Phase two, from a worker: its judgement."""

    findings: list[Finding]
    evaluations: Packed
    judged: int  # target documents, valid or not
    labels: dict[tuple[str, str | None], dict[str, str]]
    backend: str


def pays(jobs: int | None, files: int) -> bool:
    """Whether several processes may pay off: asked for, or thousands of files, on Linux."""
    return sys.platform == "linux" and (jobs not in {None, 1} or files >= PARALLEL_FROM)


def workers(jobs: int | None, files: int) -> int:
    """How many processes to use for ``files`` files (1: judge in this process)."""
    if jobs == 1 or sys.platform != "linux":
        return 1
    cores = len(os.sched_getaffinity(0))
    if jobs is not None:
        return max(1, min(jobs, files))
    if files < PARALLEL_FROM or cores < 2:
        return 1
    return min(cores, MAX_WORKERS)


def split(files: Sequence[_S], count: int) -> list[list[_S]]:
    """Every ``count``-th file to each share: folders (and kinds) spread evenly."""
    return [list(files[i::count]) for i in range(count)]


def in_processes(work: Callable[[list[_S]], _T], items: Sequence[_S], count: int) -> list[_T]:
    """``work`` on every ``count``-th item, in ``count`` forked processes that share what
    this one holds (only the results travel back, pickled); the results in the shares' order."""

    def run(share: list[_S], connection: Connection) -> None:
        _answering(connection, lambda: connection.send(work(share)))

    with _forked(run, split(items, count)) as channels:
        return _gather(channels, _receive)


_SHARED_SPEC: Final = {
    "ChangeRequest": ("environment", "services", "schedule", "status"),
    # what error budgets read (errorBudget, release-readiness/error-budget)
    "Incident": ("services", "environment", "detectedAt", "resolvedAt", "impact"),
}


def _shared(documents: Sequence[Document]) -> bytes:
    """What other shares need of these documents, as plain tuples (they pickle ~10x faster
    than objects): release plans and windows whole, change requests' target and schedule,
    incidents' services, times and impact."""
    records = []
    for document in documents:
        keep = _SHARED_SPEC.get(document.kind)
        if document.kind in {"ReleasePlan", "FreezeWindow", "ChangeWindow"}:
            body = document.body
        elif keep is not None:
            spec = document.spec
            body = {
                "metadata": {"name": document.name},
                "spec": {k: spec[k] for k in keep if k in spec},
            }
        else:
            continue
        records.append((document.kind, document.name, body, str(document.path), document.index))
    return pickle.dumps(records, protocol=pickle.HIGHEST_PROTOCOL)


def _documents(blob: bytes) -> list[Document]:
    """Light documents from another share's records (no source map: never reported)."""
    return [
        Document(kind, name, body, Path(path), index, SourceMap(Position(1, 1), {}))
        for kind, name, body, path, index in pickle.loads(blob)  # noqa: S301 - our own worker
    ]


def _answering(connection: Connection, body: Callable[[], None]) -> None:
    """A worker's life: ``body``, or the traceback of its failure sent instead."""
    try:
        with collector_paused():  # what a worker makes lives until it ends (heap.py)
            body()
    except BaseException:
        connection.send(WorkerError(f"a worker failed:\n{traceback.format_exc()}"))
    finally:
        connection.close()


def _work(plan: Plan, files: list[Found], connection: Connection) -> None:
    """A worker: load and validate its share, exchange the index, judge its targets."""
    _answering(connection, lambda: _exchange_and_judge(plan, files, connection))


def _exchange_and_judge(plan: Plan, files: list[Found], connection: Connection) -> None:
    documents, valid, findings = plan.workspace.load_files(files)
    connection.send(
        Loaded(
            names=[
                (d.kind, d.name, str(d.path), d.index, d.line)
                for d in documents
                if d.name is not None
            ],
            findings=findings,
            unread=unread(findings, documents, valid),
            documents=len(documents),
            rules=inventory_rules(documents),
        )
    )
    connection.send_bytes(_shared(valid))  # after the message: a failure arrives instead
    duplicates: list[_Duplicate] = connection.recv()
    everywhere: list[Unread] = connection.recv()
    foreign = [d for _ in range(connection.recv()) for d in _documents(connection.recv_bytes())]
    connection.send(_judge_share(plan, documents, valid, foreign, duplicates, everywhere))


def _judge_share(
    plan: Plan,
    documents: list[Document],
    valid: list[Document],
    foreign: list[Document],
    duplicates: list[_Duplicate],
    everywhere: list[Unread],
) -> Judged:
    """Judge a share's valid targets with the CEL functions seeing every share's index, and
    knowing what none of the shares could read (an invalid freeze closes time in all)."""
    own: dict[tuple[str, int], Document] = {(str(d.path), d.index): d for d in documents}
    duplicate_findings = []
    for key, other_path, line, other, first in duplicates:
        document = own[key]
        where = display_path(Path(other_path))
        duplicate_findings.append(
            document.finding(
                schema_rule(document.kind),
                duplicate_message(document, where, line, other, first=first),
                field=("metadata", "name"),
            )
        )
    doubled = {key for key, *_ in duplicates}
    valid = [d for d in valid if (str(d.path), d.index) not in doubled]
    targets = [d for d in valid if plan.is_target(d.path)]
    # in file order, as one process has them: what ties (two freezes of the same hours) is
    # named in the same order whichever share owns which file
    everything = sorted([*valid, *foreign], key=lambda d: (str(d.path), d.index))
    evaluator = plan.evaluator(everything, everywhere)
    found, evaluations = evaluator.evaluate(targets, changed=lambda _: False)
    return Judged(
        findings=[*duplicate_findings, *found],
        evaluations=Packed(evaluations),
        judged=sum(1 for d in documents if plan.is_target(d.path)),
        labels={(d.kind, d.name): d.labels for d in targets},
        backend=evaluator.backend.name,
    )


def _receive_bytes(connection: Connection) -> bytes:
    try:
        return connection.recv_bytes()
    except EOFError:
        raise WorkerError("a worker process stopped without answering (killed?)") from None


def _receive(connection: Connection) -> Any:
    try:
        message = connection.recv()
    except EOFError:
        raise WorkerError("a worker process stopped without answering (killed?)") from None
    if isinstance(message, WorkerError):
        raise message
    return message


@dataclass(frozen=True)
class Shares:
    """Everything the workers found, merged."""

    load_findings: list[Finding]
    findings: list[Finding]
    evaluations: Evaluations
    ran: set[str]  # the rules that passed, failed or errored somewhere
    documents: int
    judged: int
    labels: dict[tuple[str, str | None], dict[str, str]]
    rules: set[str]
    backend: str


def _duplicates(loaded: Sequence[Loaded]) -> list[list[_Duplicate]]:
    """Per worker, its documents whose kind and name (whatever the case) another has."""
    groups: dict[tuple[str, str], list[tuple[int, str, str, int, int]]] = {}
    for worker, part in enumerate(loaded):
        for kind, name, path, index, line in part.names:
            groups.setdefault((kind, name.casefold()), []).append((worker, name, path, index, line))
    duplicates: list[list[_Duplicate]] = [[] for _ in loaded]
    for members in groups.values():
        if len(members) < 2:
            continue
        members.sort(key=lambda m: (m[2], m[3]))  # file order: by path, then within the file
        for position, (worker, _, path, index, _) in enumerate(members):
            _, name, other_path, _, line = members[1] if position == 0 else members[0]
            duplicates[worker].append(((path, index), other_path, line, name, position == 0))
    return duplicates


def _everywhere(loaded: Sequence[Loaded]) -> list[Unread]:
    """What no share could read: each share's, and the windows and incidents whose name
    another has (invalid, as in one process)."""
    found = {(path, kind): why for part in loaded for path, kind, why in part.unread}
    named: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
    for part in loaded:
        for kind, name, path, _, _ in part.names:
            if kind in READ_ACROSS:
                named.setdefault((kind, name.casefold()), []).append((kind, name, path))
    for members in named.values():
        if len(members) < 2:
            continue
        for kind, name, path in members:
            found.setdefault((Path(path), kind), f"{kind} {name} is invalid")
    return in_order(found)


def _gather(channels: Sequence[Connection], receive: Callable[[Connection], _T]) -> list[_T]:
    """What each worker sends, in the workers' order, taken from whichever is ready first
    (a worker waiting for the parent to read another would otherwise stand still)."""
    received: dict[int, _T] = {}
    pending = list(range(len(channels)))
    while pending:
        for channel in wait([channels[i] for i in pending]):
            index = channels.index(channel)
            received[index] = receive(channels[index])
            pending.remove(index)
    return [received[i] for i in range(len(channels))]


@contextmanager
def _forked(
    target: Callable[[_S, Connection], None], shares: Sequence[_S]
) -> Iterator[list[Connection]]:
    """A forked process per share running ``target(share, connection)``, and the parent's
    ends of their connections; on leaving, the connections are closed and the workers reaped."""
    context = multiprocessing.get_context("fork")
    channels = []
    processes = []
    try:
        for share in shares:
            parent_end, child_end = context.Pipe()
            process = context.Process(target=target, args=(share, child_end), daemon=True)
            process.start()
            child_end.close()
            channels.append(parent_end)
            processes.append(process)
        yield channels
    finally:
        for channel in channels:
            channel.close()
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():  # pragma: no cover - only if a worker hangs
                process.kill()


def judge_in_parallel(plan: Plan, files: Sequence[Found], count: int) -> Shares:
    with _forked(lambda share, end: _work(plan, share, end), split(files, count)) as channels:
        loaded: list[Loaded] = _gather(channels, _receive)
        blobs: list[bytes] = _gather(channels, _receive_bytes)
        duplicates = _duplicates(loaded)
        everywhere = _everywhere(loaded)
        for worker, channel in enumerate(channels):
            channel.send(duplicates[worker])
            channel.send(everywhere)
            channel.send(len(channels) - 1)
            for other, blob in enumerate(blobs):
                if other != worker:
                    channel.send_bytes(blob)  # relayed as is: the parent never unpickles it
        judged: list[Judged] = _gather(channels, _receive)
    labels: dict[tuple[str, str | None], dict[str, str]] = {}
    for result in judged:
        labels.update(result.labels)
    return Shares(
        load_findings=[f for part in loaded for f in part.findings],
        findings=[f for result in judged for f in result.findings],
        evaluations=Evaluations([result.evaluations for result in judged]),
        ran=set().union(*(result.evaluations.ran for result in judged)),
        documents=sum(part.documents for part in loaded),
        judged=sum(result.judged for result in judged),
        labels=labels,
        rules=set().union(*(part.rules for part in loaded)),
        backend=judged[0].backend,
    )
