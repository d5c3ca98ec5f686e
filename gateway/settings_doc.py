"""The settings reference, generated from :class:`gateway.config.Settings` itself.

The class is the one place a setting is described: its section comments (``# -- title ---``) and the
comments beside and above each field. This module reads them back from the source, so the reference
in docs/operations.md cannot drift from the code without tests/unit/test_settings_reference.py
saying so.

    flowgate config --reference                        print the reference (Markdown)
    python -m gateway.settings_doc docs/operations.md  rewrite the block between the markers in place
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import io
import re
import sys
import textwrap
import tokenize
from collections.abc import Iterable
from dataclasses import dataclass

from gateway.config import ENV_PREFIX, VENDOR_URLS, Settings

__all__ = [
    "END_MARKER",
    "START_MARKER",
    "FieldDoc",
    "Section",
    "field_docs",
    "replace_reference",
    "settings_reference",
]

START_MARKER = "<!-- settings-reference:start -->"
END_MARKER = "<!-- settings-reference:end -->"

# "# -- SOAP front door -----": a section starts; a bare "# -------" line ends the last one.
SECTION_RULE = re.compile(r"^#\s*-{2,}\s*(?P<title>.*?)\s*-*\s*$")
# A comment line under a commented field, indented to that comment's column, carries on its sentence.
CONTINUATION = re.compile(r"^#\s{2,}")


@dataclass(frozen=True)
class FieldDoc:
    name: str
    default: object
    secret: bool
    description: str
    from_file: bool = False   # GATEWAY_NAME_FILE works too

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()


@dataclass(frozen=True)
class Section:
    title: str
    fields: tuple[FieldDoc, ...]


def _comments_by_line(source: str) -> dict[int, tuple[str, bool]]:
    """Line number -> (comment text with its '#', whether the line holds nothing but the comment)."""
    out: dict[int, tuple[str, bool]] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            alone = not token.line[:token.start[1]].strip()
            out[token.start[0]] = (token.string, alone)
    return out


def _comment_text(comment: str) -> str:
    return comment.lstrip("#").strip()


def field_docs(cls: type = Settings) -> list[Section]:
    """The settings class's fields, grouped by its section comments, each with its comments."""
    source = textwrap.dedent(inspect.getsource(cls))
    comments = _comments_by_line(source)
    class_node = ast.parse(source).body[0]
    if not isinstance(class_node, ast.ClassDef):
        raise TypeError(f"{cls!r}'s source is not a class statement")
    field_lines = {node.target.id: (node.lineno, node.end_lineno or node.lineno)
                   for node in class_node.body
                   if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)}
    by_name = {f.name: f for f in dataclasses.fields(cls)}

    sections: list[tuple[str, list[FieldDoc]]] = []
    above: list[str] = []          # a comment block right above a field describes that field
    after_inline_comment = False   # the last field had a comment beside it, which may go on below
    field_at = {first: name for name, (first, _) in field_lines.items()}
    lines = source.splitlines()
    number = 1
    while number <= len(lines):
        name = field_at.get(number)
        comment, alone = comments.get(number, ("", False))
        if name is not None:
            first, last = field_lines[name]
            inline = [_comment_text(comments[n][0]) for n in range(first, last + 1)
                      if n in comments and not comments[n][1]]
            f = by_name[name]
            if sections:
                sections[-1][1].append(FieldDoc(name, _default_of(f), bool(f.metadata.get("secret")),
                                                " ".join(above + inline), bool(f.metadata.get("file"))))
            above, after_inline_comment = [], bool(inline)
            number = last + 1
            continue
        if comment and alone:
            rule = SECTION_RULE.match(comment)
            if rule:
                sections.append((rule.group("title"), []))
                above, after_inline_comment = [], False
            elif after_inline_comment and CONTINUATION.match(comment) and sections and sections[-1][1]:
                previous = sections[-1][1][-1]
                sections[-1][1][-1] = dataclasses.replace(
                    previous, description=f"{previous.description} {_comment_text(comment)}")
            else:
                above.append(_comment_text(comment))
                after_inline_comment = False
        else:  # a blank line or other code: a comment block above it describes no field
            above, after_inline_comment = [], False
        number += 1
    documented = [Section(title, tuple(docs)) for title, docs in sections if docs]
    missing = set(by_name) - {d.name for s in documented for d in s.fields}
    if missing:  # a field above the first section comment: the reference must still name it
        raise ValueError(f"settings outside any section comment: {', '.join(sorted(missing))}")
    return documented


def _default_of(f: dataclasses.Field) -> object:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def _shown_default(doc: FieldDoc) -> str:
    if doc.secret:
        return "(secret)"
    value = doc.default
    if value in ("", None):
        return "(empty)"
    if isinstance(value, bool):
        return "`1`" if value else "`0`"
    text = f"`{value}`"
    if doc.name in VENDOR_URLS:
        # Settings.from_mapping points unset vendor URLs at the sandbox wherever its host and port are.
        text += " (the sandbox)"
    return text


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _title(text: str) -> str:
    return text[:1].upper() + text[1:]


def _table(docs: Iterable[FieldDoc]) -> list[str]:
    rows = ["| setting | default | description |", "|---|---|---|"]
    for doc in docs:
        env = f"`{doc.env}`" + (f" or `{doc.env}_FILE`" if doc.from_file else "")
        rows.append(f"| {env} | {_cell(_shown_default(doc))} | {_cell(doc.description)} |")
    return rows


def settings_reference(cls: type = Settings) -> str:
    """Every setting as Markdown: one table per section of the settings class."""
    lines = [textwrap.fill(
        f"Generated from `gateway/config.py` by `flowgate config --reference`; do not edit by hand. Each "
        f"setting is an environment variable `{ENV_PREFIX}NAME`, or `name:` in the YAML file named by "
        f"`{ENV_PREFIX}CONFIG` (the environment wins). A setting listed with `{ENV_PREFIX}NAME_FILE` (the "
        f"secrets, and the URLs that may hold a password) can instead be read from a file: "
        f"`{ENV_PREFIX}NAME_FILE=/run/secrets/name`, one trailing newline stripped.",
        width=100, break_on_hyphens=False, break_long_words=False)]
    for section in field_docs(cls):
        lines += ["", f"### {_title(section.title)}", "", *_table(section.fields)]
    return "\n".join(lines) + "\n"


def replace_reference(document: str, reference: str | None = None) -> str:
    """``document`` with the text between the reference markers replaced by the current reference."""
    start, end = document.find(START_MARKER), document.find(END_MARKER)
    if start < 0 or end < start:
        raise ValueError(f"expected the markers {START_MARKER} and {END_MARKER}, in that order")
    body = settings_reference() if reference is None else reference
    return document[:start + len(START_MARKER)] + "\n" + body + document[end:]


def referenced_block(document: str) -> str | None:
    """The text between the markers (without the newline that follows the start marker), or None."""
    start, end = document.find(START_MARKER), document.find(END_MARKER)
    if start < 0 or end < start:
        return None
    return document[start + len(START_MARKER):end].removeprefix("\n")


def main(argv: list[str] | None = None) -> int:
    paths = sys.argv[1:] if argv is None else argv
    if not paths:
        sys.stdout.write(settings_reference())
        return 0
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(replace_reference(text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
