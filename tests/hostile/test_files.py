"""Hostile input: every case must end in a finding or a usage error that names the file, and
never in a traceback (exit 3) or a silent pass (exit 0)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.files import write

VALID_CR = """\
apiVersion: changegate/v1
kind: ChangeRequest
metadata:
  name: {name}
spec:
  title: {title}
  type: normal
  risk: low
  environment: production
  services: [checkout]
  requestor: {{name: alice}}
  description: d
  rollback: [r]
  schedule: {{start: "2024-01-25T02:00", duration: 1h}}
"""


def cr(name: str = "CHG-1", title: str = "t") -> str:
    return VALID_CR.format(name=name, title=title)


def laughs() -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(8):
        prev, this = chr(97 + i), chr(98 + i)
        lines.append(f"{this}: &{this} [" + ",".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def many_documents(folder: Path) -> Path:
    docs = [cr(f"CHG-{i}") for i in range(9_999)]
    docs.append(cr("CHG-LAST").replace("type: normal", "type: sometimes"))
    return write(folder / "changes" / "many.yaml", "---\n".join(docs))


def big_file(folder: Path) -> Path:
    path = folder / "changes" / "big.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as stream:
        stream.write(cr())
        stream.write("#" + "x" * (10 * 1024 * 1024) + "\n")
    return path


def fifo(folder: Path) -> Path:
    path = folder / "changes" / "pipe.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path


def dangling(folder: Path) -> Path:
    path = folder / "changes" / "gone.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(folder / "nowhere.yaml")
    return path


def loop(folder: Path) -> Path:
    path = folder / "changes" / "a.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    other = folder / "changes" / "b.yaml"
    path.symlink_to(other)
    other.symlink_to(path)
    return path


def directory_named_yaml(folder: Path) -> Path:
    path = folder / "changes" / "x.yaml"
    path.mkdir(parents=True)
    return path


def text_case(text: str | bytes) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / "changes" / "case.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        return path

    return make


def deep_wrong_type() -> str:
    return cr().replace(
        "  schedule:",
        "  impact:\n    systems:\n      - name: [nested, list]\n  schedule:",
    )


CASES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "billion laughs": (text_case(laughs()), "alias bomb"),
    "recursive alias": (text_case("a: &a [*a]\n"), "refers to itself"),
    "undefined alias": (text_case("a: *nowhere\n"), "has no anchor"),
    "deep flow nesting": (text_case("a: " + "[" * 100_000 + "]" * 100_000), "nesting deeper"),
    "deep block nesting": (
        text_case("".join("  " * i + "k:\n" for i in range(200))),
        "nesting deeper",
    ),
    "duplicate key": (text_case(cr() + "  type: emergency\n"), "duplicate key 'type'"),
    "python object tag": (
        text_case("a: !!python/object/apply:os.system ['echo pwned']\n"),
        "unsupported YAML tag",
    ),
    "binary tag": (text_case("a: !!binary aGVsbG8=\n"), "unsupported YAML tag !!binary"),
    "merge key": (text_case(cr() + "  <<: {risk: high}\n"), "merge keys"),
    "complex key": (text_case("? [a, b]\n: c\n"), "used as a key"),
    "NUL byte": (text_case(cr().encode() + b"\x00\n"), "NUL byte"),
    "latin-1 text": (text_case(cr(title="caf\xe9").encode("latin-1")), "not UTF-8"),
    "UTF-16 text": (text_case(cr().encode("utf-16")), "NUL byte"),
    "binary file": (text_case(b"\x89PNG\r\n\x1a\n" + bytes(range(256))), "NUL byte"),
    "control character": (text_case(cr(title="bell\x07")), "not valid YAML"),
    "empty file": (text_case(""), "holds no YAML document"),
    "comments only": (text_case("# just a comment\n\n   \n"), "holds no YAML document"),
    "lone null document": (text_case("---\n...\n"), "the document is empty"),
    "top-level list": (text_case("- a\n- b\n"), "is a list, not a mapping"),
    # a document that is not a mapping is described, never quoted: a file off the runner must
    # not reach a pull request comment through its error message
    "top-level string": (text_case("just words\n"), "the document is text (10 characters)"),
    "top-level number": (text_case("42\n"), "the document is a number"),
    "wrong type at depth": (text_case(deep_wrong_type()), "spec.impact.systems[0] must be"),
    "spec is null": (text_case(cr().split("spec:")[0] + "spec:\n"), "spec must be a mapping"),
    "kind is a list": (
        text_case("apiVersion: changegate/v1\nkind: [ChangeRequest]\n"),
        "kind must be a string, not a list",
    ),
    "very long string": (text_case(cr(title="x" * 1_000_000)), "over the 65,536-character"),
    "very long key": (text_case("k" * 100_000 + ": 1\n"), "over the 65,536-character"),
    "not a number": (text_case(cr().replace("risk: low", "risk: .nan")), "not a usable number"),
    "bidi override in name": (text_case(cr(name="CHG\u202e-1")), "is not a valid name"),
    "10 MB file": (big_file, "over the 5,242,880-byte limit"),
    "10,000 documents in one file": (many_documents, "more than 1,000 documents"),
    "directory named x.yaml": (directory_named_yaml, "no YAML files"),
    "FIFO": (fifo, "not a regular file"),
    "dangling symlink": (dangling, "no such file"),
    "symlink loop": (loop, "cannot read a.yaml"),
}


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 25


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_input(case: str, cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make, expected = CASES[case]
    monkeypatch.chdir(tmp_path)
    target = make(tmp_path)
    started = time.perf_counter()
    result = cli("validate", target.relative_to(tmp_path))
    elapsed = time.perf_counter() - started
    assert "Traceback" not in result.err
    assert result.code in {1, 2}, f"exit {result.code}: {result.out}{result.err}"
    shown = result.out + result.err
    assert expected in shown
    assert target.relative_to(tmp_path).as_posix() in shown
    assert elapsed < 60  # a guard against hangs, not a benchmark


def test_whole_repository_with_hostile_files_reports_each(cli, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".git").mkdir()
    write(tmp_path / "changes" / "good.yaml", cr("CHG-GOOD"))
    write(tmp_path / "changes" / "bomb.yaml", laughs())
    write(tmp_path / "changes" / "nul.yaml", "a: 1\n\x00")
    (tmp_path / "changes" / "dir.yaml").mkdir()
    dangling(tmp_path)
    result = cli("validate")
    assert result.code == 1
    assert "changes/bomb.yaml:" in result.out
    assert "changes/nul.yaml:" in result.out
    assert "changes/gone.yaml:" in result.out
    assert "changes/good.yaml" not in result.out  # the good file is checked and passes
    assert "1 document from 4 files" in result.out


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file(cli, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path / "changes" / "secret.yaml", cr())
    path.chmod(0)
    result = cli("validate", "changes/secret.yaml")
    assert result.code == 1
    assert "cannot read secret.yaml: permission denied" in result.out
