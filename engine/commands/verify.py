"""``changegate verify COMMIT``: replay a decision record and compare, field by field."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

from engine.commands import common
from engine.commands.common import add_output, opened, plural
from engine.errors import EXIT_DENIED, EXIT_OK, ChangegateError

HELP = "replay the decision recorded on a commit and show that it gives the same verdict"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("commit", help="the commit whose record to replay")
    add_output(parser, ("text", "json"))


def run(args: argparse.Namespace, now: datetime) -> int:
    del now  # a replay judges at the recorded instant
    from engine.time.instants import parse_instant
    from engine.trail import notes, replay
    from engine.trail.record import RecordError

    repo, _ = common.locate(args.repo)
    commit = repo.resolve(args.commit)
    differences: list[str] = []
    replayed = None
    try:
        record = notes.read(repo, commit, edited=False)  # an edited one is compared below
    except RecordError as error:
        record, differences = None, [str(error)]
    if record is None and not differences:
        with opened(args) as out:
            out.write(f"{commit[:12]} has no decision record under {notes.NOTES_REF}\n")
        return EXIT_DENIED
    if record is not None:
        differences += _edited(record)
        try:
            replayed = replay.judge_commit(
                repo,
                commit,
                root=record["root"],
                context=record["context"],
                at=parse_instant(record["at"]),
                policies_from=record["policy"]["revision"],
                config_file=record.get("config"),
                backend=_backend(record),
                paths=tuple(str(p) for p in record["paths"]),
            )
        except ChangegateError as error:  # a revision, config or file the record names is gone
            differences.append(f"the record cannot be replayed: {error}")
        else:
            differences += compare(record, replayed)
    with opened(args) as out:
        if args.format == "json":
            data = {"commit": commit, "same": not differences, "differences": differences}
            json.dump(data, out, indent=2)
            out.write("\n")
        elif differences or record is None:
            failed = (
                "cannot be verified" if record is None else "does not replay to the same decision"
            )
            out.write(f"✗ the record on {commit[:12]} {failed}:\n")
            out.writelines(f"  - {d}\n" for d in differences)
        else:
            out.write(
                f"✓ the record on {commit[:12]} replays to the same decision: "
                f"{record['decision']}, {plural(len(record['rules']), 'rule outcome')}, "
                f"{plural(len(record['approvals']), 'approval')}, inputs "
                f"{_short(record['inputs']['digest'])}\n"
            )
    return EXIT_DENIED if differences else EXIT_OK


_Item = Callable[[dict[str, Any]], Any]
# lists whose items have an identity: name -> (the key of an item, what an absent one shows)
_KEYED: Final[dict[str, tuple[_Item, _Item]]] = {
    "rules": (lambda r: f"{r.get('rule')} on {r.get('kind')} {r.get('name')}",
              lambda r: r.get("outcome")),
    "documents": (lambda d: str(d.get("path")), lambda d: d.get("sha256")),
    "approvals": (lambda a: f"{a.get('user')} (review {a.get('reviewId') or 'without an id'})",
                  lambda a: ",".join(a.get("roles") or [])),
}  # fmt: skip
_ABSENT: Final = object()


def _edited(recorded: dict[str, Any]) -> list[str]:
    """Whether the record still matches its own digests, checked before anything is replayed."""
    from engine.trail.record import inputs_digest, record_digest

    out: list[str] = []
    stored, own = recorded["inputs"].get("digest"), inputs_digest(recorded)
    if own != stored:
        out.append(
            f"inputs.digest: the recorded inputs no longer match the recorded digest (recorded "
            f"{_short(stored)}, the inputs give {_short(own)}): the record was edited after it "
            "was written"
        )
    whole = record_digest(recorded)
    if whole != recorded["digest"]:
        out.append(
            f"digest: the record no longer matches its own digest (recorded "
            f"{_short(recorded['digest'])}, its content gives {_short(whole)}): it was edited "
            "after it was written"
        )
    return out


def compare(recorded: dict[str, Any], replayed: dict[str, Any]) -> list[str]:
    """What differs between a record and its replay, one sentence per field: every field but
    the engine block and the digests (those are checked against the record itself)."""
    from engine.trail.record import inputs_digest

    out: list[str] = []
    stored, own = recorded["inputs"].get("digest"), inputs_digest(recorded)
    skipped = {"engine", "digest", "inputs"}
    for name in sorted((set(recorded) | set(replayed)) - skipped):
        out += _diff(name, recorded.get(name, _ABSENT), replayed.get(name, _ABSENT))
    if stored != replayed["inputs"]["digest"] and own == stored:
        out.append(
            f"inputs.digest: recorded {_short(stored)}, replayed "
            f"{_short(replayed['inputs']['digest'])}"
        )
    engine = recorded["engine"]
    changed = [
        f"{name} {engine.get(key)} then, {replayed['engine'][key]} now"
        for key, name in (("version", "changegate"), ("celBackend", "CEL"), ("tzdata", "tzdata"))
        if engine.get(key) != replayed["engine"][key]
    ]
    if out and changed:
        out.append(f"(the engine changed too: {'; '.join(changed)})")
    return out


def _diff(path: str, recorded: Any, replayed: Any) -> list[str]:
    if recorded == replayed:
        return []
    if path in _KEYED and isinstance(recorded, list) and isinstance(replayed, list):
        key, shown = _KEYED[path]
        before = {key(i): i for i in recorded if isinstance(i, dict)}
        after = {key(i): i for i in replayed if isinstance(i, dict)}
        out = []
        for item in sorted(set(before) | set(after)):
            if item in before and item in after:
                out += _diff(f"{path}: {item}:", before[item], after[item])
            elif before.get(item) != after.get(item):
                a = shown(before[item]) if item in before else "(absent)"
                b = shown(after[item]) if item in after else "(absent)"
                out.append(f"{path}: {item}: recorded {a}, replayed {b}")
        return out
    if isinstance(recorded, dict) and isinstance(replayed, dict):
        # a field of a keyed item reads "approvals: carol (review 9): submittedAt"
        joined = path + " " if path.endswith(":") else path + "."
        out = []
        for name in sorted(set(recorded) | set(replayed)):
            out += _diff(joined + name, recorded.get(name, _ABSENT), replayed.get(name, _ABSENT))
        return out
    if isinstance(recorded, list) and isinstance(replayed, list):
        out = []
        if len(recorded) != len(replayed):
            out.append(f"{path}: recorded {len(recorded)} items, replayed {len(replayed)}")
        for index, (a, b) in enumerate(zip(recorded, replayed, strict=False)):
            out += _diff(f"{path}[{index}]", a, b)
        return out
    return [f"{path}: recorded {_show(recorded)}, replayed {_show(replayed)}"]


def _show(value: Any) -> str:
    if value is _ABSENT:
        return "(absent)"
    if isinstance(value, str) and value.startswith("sha256:"):
        return _short(value)
    return repr(value) if isinstance(value, str) else json.dumps(value)


def _short(value: Any) -> str:
    text = str(value)
    return text[:19] if text.startswith("sha256:") else text


def _backend(record: dict[str, Any]) -> str | None:
    from engine import cel

    backend = record["engine"].get("celBackend")
    return backend if backend in cel.available() else None
