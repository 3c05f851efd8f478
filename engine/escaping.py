"""Escaping user-written text for the places it is shown: GitHub-flavoured markdown (PR
comments, job summaries) and workflow commands; the HTML report adds its bidi rule to Jinja's
autoescape. Document text comes from pull request authors, so none of it may inject markup,
links, math, mentions or commands, nor reorder what a reader sees."""

from __future__ import annotations

import re
from typing import Final

ZERO_WIDTH: Final = "\u200b"
# Inline markup only: the text never starts a line of its own (list and heading markers at
# the start of a line, such as - + . !, cannot act).
_MARKDOWN_SPECIAL: Final = re.compile(r"([\\`*_{}\[\]()#|~>])")
_MENTION: Final = re.compile(r"@(?=[A-Za-z0-9])")
# Issue and pull request references: #123, owner/repo#123, GH-123.
_REFERENCE: Final = re.compile(r"#(?=\d)|(?<=\bGH)-(?=\d)", re.IGNORECASE)
# GitHub's extended autolinks: scheme:// and www. (email addresses lose their @ above).
_AUTOLINK: Final = re.compile(r"(?<=:)(?=//)|(?<=\bwww)(?=\.)", re.IGNORECASE)
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Bidirectional controls reorder what a reader sees ("Trojan Source", CVE-2021-42574): shown
# as their code point instead, so that nothing is hidden and nothing is lost.
_BIDI: Final = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def bidi_visible(text: str) -> str:
    """Bidirectional controls as ``<U+202E>``: the order a reader sees is the order written."""
    return _BIDI.sub(lambda m: f"<U+{ord(m.group()):04X}>", text)


def markdown(text: str) -> str:
    """Text that renders as itself in GitHub markdown, on one line, inside a table cell too:
    no HTML (so no ``<!--``), no emphasis, links or math, no @mentions or #123 references."""
    text = _CONTROL.sub("", text).replace("\r", " ").replace("\n", " ")
    text = bidi_visible(text)
    # < > & as entities first (named ones: the backslashes below would break &#39;). GitHub
    # reads $...$ as math whatever backslashes stand before it; an entity it cannot.
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = text.replace("$", "&dollar;")
    text = _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    # A zero-width space keeps GitHub from notifying people (@), linking issues (#123) and
    # turning bare URLs into links.
    text = _MENTION.sub("@" + ZERO_WIDTH, text)
    text = _REFERENCE.sub(lambda m: m.group(0) + ZERO_WIDTH, text)
    return _AUTOLINK.sub(ZERO_WIDTH, text)


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def command_data(text: str) -> str:
    """The message part of a workflow command (``::error ...::DATA``), as @actions/core escapes
    it: a message can never end the line and start a command of its own."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def command_property(text: str) -> str:
    """A property value of a workflow command (``file=...,title=...``)."""
    return command_data(text).replace(":", "%3A").replace(",", "%2C")
