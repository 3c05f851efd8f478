"""The rules changegate itself reports, beside the policies' rules: one registry of their ids
and what each checks (SARIF help, JUnit, the docs and the audit report read it from here).

Policy rules are ``policy/rule`` ids from Policy documents; these are the engine's own:
loading (``yaml/``, ``schema/``), the run (``changegate/``), waivers (``waiver/``), the deploy
gate (``gate/``) and the audit of the trail (``audit/``).
"""

from __future__ import annotations

from typing import Final

# --- loading --------------------------------------------------------------------------------
PARSE: Final = "yaml/parse"
ENVELOPE: Final = "schema/envelope"


def schema(kind: str) -> str:
    """The rule of a kind's schema and consistency checks, e.g. ``schema/ChangeRequest``."""
    return f"schema/{kind}"


# --- the run --------------------------------------------------------------------------------
UNMATCHED: Final = "changegate/unmatched"
INCOMPLETE: Final = "changegate/incomplete-context"
ELSEWHERE: Final = "changegate/invalid-elsewhere"
UNJUDGED_DELETION: Final = "changegate/unjudged-deletion"
UNKNOWN_BASE: Final = "changegate/unknown-base"
OUTSIDE: Final = "changegate/outside-repository"
TOO_MANY: Final = "changegate/too-many-findings"
INVALID_POLICIES: Final = "changegate/invalid-policies"
WAIVER_EXPIRED: Final = "waiver/expired"
WAIVER_UNUSED: Final = "waiver/unused"

RUN: Final = {
    PARSE: "The file can be read as YAML: UTF-8, well formed, within limits, no duplicate keys, "
    "merge keys or custom tags.",
    ENVELOPE: "The document is a changegate document: a mapping with apiVersion changegate/v1, "
    "a known kind, metadata.name and spec.",
    UNMATCHED: "Every changed governed document is judged by at least one policy rule.",
    INCOMPLETE: "The request context is complete enough to decide.",
    ELSEWHERE: "Documents outside this run are valid, so cross-document checks see them.",
    UNJUDGED_DELETION: "A governed file a pull request deletes can be read at the base revision, "
    "so that its deletion is judged.",
    UNKNOWN_BASE: "A pull request is compared with its base revision, so that what it removes "
    "and what it adds are known.",
    OUTSIDE: "Governed paths stay inside the repository: no symbolic link out of it or to a "
    "folder.",
    TOO_MANY: "A run's findings fit in its report; the ones past the limit are counted here.",
    INVALID_POLICIES: "The config, policies, waivers and pack lock a pull request leaves can be "
    "loaded, so that the runs after its merge can judge (checked with --policies-from).",
    WAIVER_EXPIRED: "Waivers are removed or renewed when they expire.",
    WAIVER_UNUSED: "Waivers still match a failing finding.",
}

# --- the deploy gate ------------------------------------------------------------------------
FROZEN: Final = "gate/frozen"
OUTSIDE_WINDOW: Final = "gate/outside-change-window"
NO_RELEASE: Final = "gate/release-plan"
CHANGE: Final = "gate/change-request"
WINDOWS_UNREADABLE: Final = "gate/unreadable-window"
PROTECTED: Final = "gate/protected-environment"

GATE: Final = {
    FROZEN: "No freeze that applies to the target blocks the deploy at this instant.",
    OUTSIDE_WINDOW: "Where change windows apply, the deploy happens inside one.",
    NO_RELEASE: "The release plan of the deployed version exists.",
    CHANGE: "The change request named or found for the deploy is scheduled now.",
    WINDOWS_UNREADABLE: "Every freeze and change window can be read.",
    PROTECTED: "A deploy to a protected environment has the reason its `requires` asks for: "
    "an approved change request scheduled now, or a release plan that passes.",
}

# --- the audit of the trail -----------------------------------------------------------------
DIRECT_PUSH: Final = "audit/direct-push"
NO_RECORD: Final = "audit/no-decision-record"
DENIED: Final = "audit/denied-decision"
EDITED: Final = "audit/edited-after-approval"
POST_REVIEW: Final = "audit/post-review"
INSIDE_FREEZE: Final = "audit/inside-freeze"
LEAD_TIME: Final = "audit/lead-time"
EXPIRED_WAIVER: Final = "audit/expired-waiver"
UNREADABLE: Final = "audit/unreadable-record"
REPLACED: Final = "audit/replaced-record"
FORGED: Final = "audit/forged-record"

AUDIT: Final = {
    DIRECT_PUSH: "Governed documents change on the default branch only by pull request.",
    NO_RECORD: "Every merged change to a governed document has a decision record.",
    DENIED: "No pull request is merged against a deny decision.",
    EDITED: "An approved document changes again only with a new decision.",
    POST_REVIEW: "Emergency changes get their post-review, in time.",
    INSIDE_FREEZE: "Nothing is released or changed inside a freeze it cannot pass.",
    LEAD_TIME: "Changes run no earlier than their lead time allows.",
    EXPIRED_WAIVER: "Expired waivers are removed.",
    UNREADABLE: "Decision records stay readable and as they were written.",
    REPLACED: "Decision records are written once; replacing one is shown.",
    FORGED: "A decision record sits on the merge of the pull request it names.",
}


def engine_rules(kinds: tuple[str, ...] | list[str]) -> dict[str, str]:
    """What each rule a check may report checks (the schema rules of ``kinds`` included)."""
    docs = dict(RUN)
    for kind in kinds:
        docs[schema(kind)] = f"The {kind} matches its JSON Schema and is consistent."
    return docs
