"""Message templates: a small Markdown file with ``{placeholders}``, rendered to plain text and to HTML.

The first line is ``Subject: …``; a blank line follows, then the body. The body understands the little
Markdown a letter needs: ``#``/``##`` headings, paragraphs, ``- `` bulleted lists and ``**bold**``.
Placeholders are filled after the Markdown is rendered, so a value is never read as Markdown; in the
HTML part every value is escaped (an organisation called ``<b>A&E</b>`` is shown as typed).
"""
from __future__ import annotations

import functools
import html
import re
from dataclasses import dataclass
from pathlib import Path

from trust_survey.errors import DefinitionError, did_you_mean

TEMPLATES = Path(__file__).resolve().parent / "templates"
PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
#: Placeholders every template may use; a message supplies each one (blank when it has nothing to say).
KNOWN = ("org_name", "org_code", "round", "instrument_title", "deadline", "contact", "attachments", "changes",
         "missing", "sender_name")
BOLD = re.compile(r"\*\*(.+?)\*\*")

# The HTML part: plain, accessible (real headings and lists, lang, 16px text, strong contrast), NHS blue headings.
HTML_PAGE = """<!DOCTYPE html>
<html lang="en-GB">
<head><meta charset="utf-8"><title>{title}</title></head>
<body style="margin:0;padding:16px;font-family:Arial,Helvetica,sans-serif;font-size:16px;line-height:1.5;\
color:#212b32;background:#ffffff">
<div style="max-width:640px">
{body}
</div>
</body>
</html>
"""
H_STYLE = "color:#005eb8;font-family:Arial,Helvetica,sans-serif;line-height:1.3"


@dataclass(frozen=True)
class Template:
    name: str
    subject: str
    body: str        # Markdown with placeholders

    def placeholders(self) -> set[str]:
        return set(PLACEHOLDER.findall(self.subject + "\n" + self.body))


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def load_template(path: Path | str) -> Template:
    """Read a template file; raise DefinitionError (TPL001) naming the line for a missing subject or an
    unknown placeholder."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise DefinitionError(f"{path}: cannot read the message template: {exc.strerror or exc}",
                              code="TPL001") from None
    except UnicodeDecodeError:
        raise DefinitionError(f"{path}: the message template is not UTF-8 text; save it as UTF-8",
                              code="TPL001") from None
    lines = raw.replace("\r\n", "\n").split("\n")
    if not lines or not lines[0].lower().startswith("subject:"):
        raise DefinitionError(f"{path}: line 1: expected 'Subject: …' (the email's subject), found "
                              f"{lines[0][:60]!r}", code="TPL001")
    subject = lines[0].split(":", 1)[1].strip()
    body = "\n".join(lines[1:]).strip("\n")
    problems = []
    for number, line in enumerate(lines, start=1):
        for name in PLACEHOLDER.findall(line):
            if name not in KNOWN:
                problems.append(f"{path}: line {number}: unknown placeholder {{{name}}}"
                                f"{did_you_mean(name, KNOWN)}; known: {', '.join(KNOWN)}")
    if problems:
        raise DefinitionError(f"{path}: {len(problems)} problem(s) in the message template", code="TPL001",
                              details=problems)
    return Template(path.stem, subject, body)


@functools.lru_cache(maxsize=None)
def shipped(name: str) -> Template:
    """One of the templates shipped with the toolkit: ``invitation`` or ``reminder``."""
    return load_template(TEMPLATES / f"{name}.md")


def _fill(text: str, values: dict[str, str], escape) -> str:
    return PLACEHOLDER.sub(lambda m: escape(values.get(m.group(1), "")), text)


def _html_value(value: str) -> str:
    return html.escape(value, quote=True).replace("\n", "<br>\n")


def _inline_html(text: str) -> str:
    """Escape template text, then its **bold**; placeholders pass through untouched to be filled later."""
    return BOLD.sub(r"<strong>\1</strong>", html.escape(text, quote=False))


def _blocks(body: str) -> list[list[str]]:
    blocks, current = [], []
    for line in body.split("\n"):
        if line.strip():
            current.append(line.rstrip())
        elif current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return blocks


def _to_html(body: str) -> str:
    out = []
    for block in _blocks(body):
        first = block[0]
        if first.startswith("#"):
            level = min(len(first) - len(first.lstrip("#")), 3)
            out.append(f'<h{level} style="{H_STYLE}">{_inline_html(first.lstrip("#").strip())}</h{level}>')
            block = block[1:]
            if not block:
                continue
        if all(line.startswith("- ") for line in block):
            items = "".join(f"<li>{_inline_html(line[2:])}</li>" for line in block)
            out.append(f'<ul style="padding-left:24px">{items}</ul>')
        else:
            out.append("<p>" + "<br>\n".join(_inline_html(line) for line in block) + "</p>")
    return "\n".join(out)


def _to_text(body: str) -> str:
    out = []
    for block in _blocks(body):
        lines = []
        for line in block:
            if line.startswith("#"):
                title = BOLD.sub(r"\1", line.lstrip("#").strip())
                lines += [title, "-" * len(title)]
            else:
                lines.append(BOLD.sub(r"\1", line))
        out.append("\n".join(lines))
    return "\n\n".join(out) + "\n"


def render(template: Template, values: dict[str, str]) -> Rendered:
    """The subject (one line, control characters removed), the plain-text part and the HTML part."""
    clean = {k: str(v) if v is not None else "" for k, v in values.items()}
    one_line = {k: re.sub(r"[\x00-\x1f\x7f]+", " ", v).strip() for k, v in clean.items()}
    subject = _fill(template.subject, one_line, str)
    text = re.sub(r"\n{3,}", "\n\n", _fill(_to_text(template.body), clean, str)).strip("\n") + "\n"
    body = re.sub(r"<p>\s*</p>\n?", "", _fill(_to_html(template.body), clean, _html_value))
    return Rendered(subject, text, HTML_PAGE.format(title=html.escape(subject), body=body))
