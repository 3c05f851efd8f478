"""``changegate verify COMMIT``: replay a decision record and compare, field by field."""

from __future__ import annotations

import argparse
import json
from typing import Any

from engine.commands.output import add_output, opened
from engine.errors import EXIT_DENIED, EXIT_OK

HELP = "replay the decision recorded on a commit and show that it gives the same verdict"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("commit", help="the commit whose record to replay")
    add_output(parser, ("text", "json"))


def run(args: argparse.Namespace) -> int:
    from engine import records
    from engine.commands.record import locate, plural
    from engine.times import parse_instant

    repo, _ = locate(args.repo)
    commit = repo.resolve(args.commit)
    record = records.read(repo, commit)
    if record is None:
        with opened(args) as out:
            out.write(f"{commit[:12]} has no decision record under {records.NOTES_REF}\n")
        return EXIT_DENIED
    differences: list[str] = []
    own = records.inputs_digest(record)
    try:
        replayed = records.judge_commit(
            repo,
            commit,
            root=str(record.get("root") or "."),
            context=record.get("context") or {"event": record.get("event", "merge")},
            at=parse_instant(str(record["at"])),
            policies_from=str(record["policy"]["revision"]),
            backend=_backend(record),
            paths=() if _has_files(record) else tuple(d["path"] for d in record["documents"]),
        )
    except (KeyError, TypeError, ValueError) as error:
        differences.append(f"the record cannot be replayed: {type(error).__name__}: {error}")
        replayed = None
    if replayed is not None:
        differences += compare(record, replayed)
    with opened(args) as out:
        if args.format == "json":
            data = {"commit": commit, "same": not differences, "differences": differences}
            json.dump(data, out, indent=2)
            out.write("\n")
        elif differences:
            out.write(f"✗ the record on {commit[:12]} does not replay to the same decision:\n")
            out.writelines(f"  - {d}\n" for d in differences)
        else:
            out.write(
                f"✓ the record on {commit[:12]} replays to the same decision: "
                f"{record['decision']}, {plural(len(record['rules']), 'rule outcome')}, "
                f"{plural(len(record['approvals']), 'approval')}, inputs {_short(own)}\n"
            )
    return EXIT_DENIED if differences else EXIT_OK


def compare(recorded: dict[str, Any], replayed: dict[str, Any]) -> list[str]:
    """What differs between a record and its replay, one sentence per field."""
    from engine.records import inputs_digest

    out: list[str] = []
    stored, own = recorded.get("inputs", {}).get("digest"), inputs_digest(recorded)
    if own != stored:
        out.append(
            f"inputs.digest: the recorded inputs no longer match the recorded digest (recorded "
            f"{_short(stored)}, the inputs give {_short(own)}): the record was edited after it "
            "was written"
        )
    for field in ("decision", "event", "at", "root"):
        if recorded.get(field) != replayed.get(field):
            out.append(
                f"{field}: recorded {recorded.get(field)!r}, replayed {replayed.get(field)!r}"
            )
    for key in ("documents", "failed", "warnings", "errors", "waived", "rules"):
        a, b = recorded.get("summary", {}).get(key), replayed["summary"].get(key)
        if key != "documents" and key != "rules" and a != b:
            out.append(f"summary.{key}: recorded {a}, replayed {b}")
    out += _keyed(
        "rules", recorded.get("rules", []), replayed["rules"],
        key=lambda r: f"{r.get('rule')} on {r.get('kind')} {r.get('name')}",
        value=lambda r: r.get("outcome"),
    )  # fmt: skip
    out += _keyed(
        "documents", recorded.get("documents", []), replayed["documents"],
        key=lambda d: str(d.get("path")), value=lambda d: d.get("sha256"),
    )  # fmt: skip
    out += _keyed(
        "approvals", recorded.get("approvals", []), replayed["approvals"],
        key=lambda a: f"{a.get('user')} (review {a.get('reviewId') or 'without an id'})",
        value=lambda a: ",".join(a.get("roles") or []),
    )  # fmt: skip
    if recorded.get("policy", {}).get("digest") != replayed["policy"]["digest"]:
        out.append(
            f"policy.digest: recorded {_short(recorded.get('policy', {}).get('digest'))}, the "
            f"policies at {str(replayed['policy']['revision'])[:12]} give "
            f"{_short(replayed['policy']['digest'])}"
        )
    if stored != replayed["inputs"]["digest"] and own == stored:
        out.append(
            f"inputs.digest: recorded {_short(recorded.get('inputs', {}).get('digest'))}, "
            f"replayed {_short(replayed['inputs']['digest'])}"
        )
    engine = recorded.get("engine", {})
    if out and engine.get("version") != replayed["engine"]["version"]:
        out.append(
            f"(recorded with changegate {engine.get('version')}, replayed with "
            f"{replayed['engine']['version']}: the engine changed too)"
        )
    return out


def _keyed(
    name: str,
    recorded: list[dict[str, Any]],
    replayed: list[dict[str, Any]],
    *,
    key: Any,
    value: Any,
) -> list[str]:
    before = {key(item): value(item) for item in recorded if isinstance(item, dict)}
    after = {key(item): value(item) for item in replayed}
    out = []
    for item in sorted(set(before) | set(after)):
        if before.get(item) != after.get(item):
            out.append(
                f"{name}: {item}: recorded {before.get(item, '(absent)')}, "
                f"replayed {after.get(item, '(absent)')}"
            )
    return out


def _short(value: Any) -> str:
    text = str(value)
    return text[:19] if text.startswith("sha256:") else text


def _backend(record: dict[str, Any]) -> str | None:
    from engine import cel

    backend = record.get("engine", {}).get("celBackend")
    return backend if backend in cel.available() else None


def _has_files(record: dict[str, Any]) -> bool:
    pr = (record.get("context") or {}).get("pullRequest") or {}
    return "changedFiles" in pr
