"""Turn a job title as a trust typed it into the tokens the matcher compares.

``"Snr Medical Physics Software Eng (Band 7) - St James's"`` becomes
``("medical", "physics", "software", "engineer")``. In order, :func:`normalise_tokens`:

1. folds case and Unicode, turns dashes, slashes and brackets into spaces, ``&``/``+`` into ``and``;
2. drops bracketed asides that only say how the post is held (``(Fixed Term)``, ``(maternity cover)``),
   markup (``<br>``), salaries (``£35,392 - £42,618 pa``), and the employer a title ends with: a part after
   a comma, bar, spaced dash or "at" (or in brackets) that names an organisation (``| Leeds Teaching
   Hospitals NHS Trust``, ``, Midlands and Lancashire CSU``); the first part is always kept, and a part
   naming a discipline or team ("- Genomics", "- Medical Physics") is never an employer;
3. removes bands and grades (``Band 7``, ``B8a``, ``AfC 6``, ``8a``, ``Grade 5``) and registration
   (``HCPC Reg``: not a registrar) and turns medical training grades (``ST3``, ``FY1``) into ``doctor``;
4. expands abbreviations and fixes British/American spellings token by token (``snr`` -> senior,
   ``eng`` -> engineer, ``counselor`` -> counsellor, ``genomic`` -> genomics);
5. rewrites multi-word phrases (``electronic patient record`` -> ``epr``);
6. removes seniority words, stop words, asides (``locum``, ``bank``), places and hospital names, numbers.

The word lists are data in ``role_taxonomy.yaml`` (``normalisation:``); this module only applies them, so
aliases in the taxonomy are normalised exactly like the titles they must meet. The result is idempotent:
normalising a normalised title changes nothing.
"""
from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Iterable, Mapping

_DASHES = re.compile(r"[\u2010-\u2015\u2212\-_/\\|,;:!?*#~^\"<>=]")
_APOSTROPHES = re.compile(r"[\u2018\u2019\u02bc'`\u00b4]")
_BRACKETS = re.compile(r"[(\[{]([^()\[\]{}]*)[)\]}]")
_BANDS = [
    re.compile(r"\b(?:afc\s*)?(?:band|bnd|bd)\s*-?\s*\d{1,2}\s*[a-d]?\b"),
    re.compile(r"\bafc\s*b?\s*\d{1,2}\s*[a-d]?\b"),
    re.compile(r"\bb\s?\d[a-d]?\b"),
    re.compile(r"\b[5-9][a-d]\b"),
    re.compile(r"\b(?:grade|level|lvl)\s*[a-z]?\d{1,2}[a-d]?\b"),
    re.compile(r"\b\d+(?:\.\d+)?\s*(?:wte|fte|hrs|hours|hour|months|month|mths|years|yrs|weeks|wks|pas?)\b"),
]
_MEDICAL_GRADES = re.compile(r"\b(?:st|ct|fy|f|sho|spr|str)\s?\d\b")
# "HCPC Reg", "AHCS registered": registration with a body, not a registrar (doctor).
_REGISTRATION = re.compile(r"\b(?:hcpc|ahcs|nmc|gmc|gphc|rcc)\s*(?:reg|regd|registered|registration|registrant)\b")
_TOKEN = re.compile(r"[a-z0-9]+")
_MARKUP = re.compile(r"<[^<>]{0,40}>|&(?:nbsp|amp|lt|gt|quot|#\d+);")
_SALARY = re.compile(r"(?:£|\bgbp\s?)\s?\d[\d,.]*\s?k?(?:\s*(?:-|to|–)\s*(?:£\s?)?\d[\d,.]*\s?k?)?"
                     r"(?:\s*(?:per annum|p\.?a\.?|pro rata|per hour|ph)\b)?")
# Where an appended part starts: a comma, semicolon or bar, a dash with spaces around it, " at ", "@".
_MAY_JOIN = re.compile(r"[,;|@\u2013\u2014]| - | at ")
_PARTS = re.compile(r"\s*[,;|]\s*|\s+[-\u2013\u2014]+\s+|\s+at\s+|\s*@\s*")
_NUMBERISH = re.compile(r"^(?:\d+|\d+(?:st|nd|rd|th)|[ivx]{1,4})$")


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


@dataclass(frozen=True)
class NormalisationTables:
    """The word lists of ``normalisation:`` in the taxonomy, compiled for fast lookup."""

    abbreviations: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    spellings: Mapping[str, str] = field(default_factory=dict)
    phrases: Mapping[tuple[str, ...], tuple[str, ...]] = field(default_factory=dict)
    remove_words: frozenset[str] = frozenset()
    remove_phrases: Mapping[tuple[str, ...], tuple[()]] = field(default_factory=dict)   # each phrase -> nothing
    bracket_asides: frozenset[str] = frozenset()
    neutral: frozenset[str] = frozenset()
    employer_words: frozenset[str] = frozenset()
    employer_phrases: frozenset[tuple[str, ...]] = frozenset()

    @classmethod
    def build(cls, *, abbreviations: Mapping[str, str] = (), spellings: Mapping[str, str] = (),
              phrases: Mapping[str, str] = (), seniority: Iterable[str] = (), stopwords: Iterable[str] = (),
              asides: Iterable[str] = (), locations: Iterable[str] = (), bracket_asides: Iterable[str] = (),
              neutral: Iterable[str] = (), employers: Iterable[str] = ()) -> "NormalisationTables":
        """Compile the raw YAML lists (phrases may be several words)."""
        abbreviations, spellings, phrases = dict(abbreviations), dict(spellings), dict(phrases)
        low = str.lower
        removable = [low(w) for w in list(seniority) + list(stopwords) + list(asides) + list(locations)]
        words = {w for w in removable if len(_tokens(w)) == 1}
        multi = {tuple(_tokens(w)) for w in removable if len(_tokens(w)) > 1}
        return cls(
            abbreviations={low(k): tuple(_tokens(low(v))) for k, v in abbreviations.items()},
            spellings={low(k): low(v) for k, v in spellings.items()},
            phrases={tuple(_tokens(low(k))): tuple(_tokens(low(v))) for k, v in phrases.items()},
            remove_words=frozenset(_tokens(" ".join(words))),
            remove_phrases={phrase: () for phrase in multi},
            bracket_asides=frozenset(_tokens(" ".join(low(w) for w in bracket_asides))),
            neutral=frozenset(_tokens(" ".join(low(w) for w in neutral))),
            employer_words=frozenset(low(w) for w in employers if len(_tokens(w)) == 1),
            employer_phrases=frozenset(tuple(_tokens(low(w))) for w in employers if len(_tokens(w)) > 1),
        )

    @functools.cached_property
    def _employer_firsts(self) -> frozenset[str]:
        return frozenset(p[0] for p in self.employer_phrases)

    def names_employer(self, text: str) -> bool:
        """Whether a part of a title names an organisation (a word or phrase of ``employers``)."""
        toks = _tokens(text)
        if self.employer_words.intersection(toks):
            return True
        if not self._employer_firsts.intersection(toks):
            return False
        return any(_contains(toks, phrase) for phrase in self.employer_phrases)

    @functools.cached_property   # asked for every title
    def longest_phrase(self) -> int:
        lengths = [len(p) for p in self.phrases] + [len(p) for p in self.remove_phrases]
        return max(lengths, default=1)


def _contains(tokens: list[str], phrase: tuple[str, ...]) -> bool:
    n = len(phrase)
    return any(tuple(tokens[i:i + n]) == phrase for i in range(len(tokens) - n + 1))


def _drop_employer(text: str, tables: NormalisationTables, keep_first: bool = True) -> str:
    """The title without the parts (after its first, unless ``keep_first`` is false) that name an
    organisation."""
    if not (tables.employer_words or tables.employer_phrases):
        return text
    bounds = [m.span() for m in _PARTS.finditer(text)]
    if not bounds and keep_first:
        return text
    starts = [0] + [e for _, e in bounds]
    ends = [s for s, _ in bounds] + [len(text)]
    seps = [""] + [text[a:b] for a, b in bounds]
    kept = []
    for i, (a, b) in enumerate(zip(starts, ends)):
        part = text[a:b]
        if (i == 0 and keep_first) or not tables.names_employer(part):
            kept.append(seps[i] + part)
    return "".join(kept)


def _clean_text(text: str, tables: NormalisationTables) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    if "<" in text or "&" in text:
        text = _MARKUP.sub(" ", text)
    if "£" in text or "gbp" in text:
        text = _SALARY.sub(" ", text)
    text = _APOSTROPHES.sub("", text)
    if _MAY_JOIN.search(text):
        text = _drop_employer(text, tables)
    text = text.replace("&", " and ").replace("+", " and ").replace("@", " at ")

    def bracket(match: re.Match) -> str:
        inner = match.group(1)
        if tables.bracket_asides and tables.bracket_asides.intersection(_tokens(inner)):
            return " "
        if tables.names_employer(inner):
            inner = _drop_employer(inner, tables, keep_first=False)
        return f" {inner} "

    for _ in range(3):  # nested brackets, innermost first
        text = _BRACKETS.sub(bracket, text)
    text = re.sub(r"[()\[\]{}]", " ", text)
    text = re.sub(r"(?<=[a-z0-9])\.(?=[a-z0-9])", "", text)  # i.t. -> it, 0.6 -> 06
    text = text.replace(".", " ")
    text = _DASHES.sub(" ", text)
    for pattern in _BANDS:
        text = pattern.sub(" ", text)
    text = _REGISTRATION.sub(" ", text)
    text = _MEDICAL_GRADES.sub(" doctor ", text)
    return text


_FIRST_WORDS: dict[int, tuple[Mapping, frozenset[str]]] = {}


def _first_words(table: Mapping[tuple[str, ...], tuple[str, ...]]) -> frozenset[str]:
    """The words that start a key of ``table`` (remembered per table)."""
    known = _FIRST_WORDS.get(id(table))
    if known is None or known[0] is not table:
        known = _FIRST_WORDS[id(table)] = (table, frozenset(key[0] for key in table if key))
    return known[1]


def _replace_phrases(tokens: list[str], table: Mapping[tuple[str, ...], tuple[str, ...]],
                     longest: int) -> list[str]:
    """Each run of tokens that is a key of ``table`` (two tokens or more, longest first) replaced by its value."""
    if not table:
        return tokens
    starts = _first_words(table)
    out: list[str] = []
    i = 0
    while i < len(tokens):
        if tokens[i] not in starts:   # no phrase starts here (most words): keep it
            out.append(tokens[i])
            i += 1
            continue
        for size in range(min(longest, len(tokens) - i), 1, -1):
            key = tuple(tokens[i:i + size])
            if key in table:
                out.extend(table[key])
                i += size
                break
        else:
            out.append(tokens[i])
            i += 1
    return out


def normalise_tokens(title: object, tables: NormalisationTables) -> tuple[str, ...]:
    """The title's meaningful words, in order, each once. Blank, None and NaN give ``()``."""
    if title is None or (isinstance(title, float) and title != title):
        return ()
    text = _clean_text(str(title), tables)
    tokens: list[str] = []
    for tok in _tokens(text):
        tok = tables.spellings.get(tok, tok)
        expansion = tables.abbreviations.get(tok)
        if expansion is not None:
            tokens.extend(tables.spellings.get(t, t) for t in expansion)
        else:
            tokens.append(tok)
    longest = tables.longest_phrase
    for _ in range(3):   # a rewrite can complete another phrase: "it service desk" -> "it helpdesk"
        rewritten = _replace_phrases(tokens, tables.phrases, longest)
        if rewritten == tokens:
            break
        tokens = rewritten
    tokens = _replace_phrases(tokens, tables.remove_phrases, longest)
    seen: set[str] = set()
    out: list[str] = []
    for tok in tokens:
        if tok in tables.remove_words or len(tok) < 2 or _NUMBERISH.match(tok) or tok in seen:
            continue
        seen.add(tok)
        out.append(tok)
    return tuple(out)


def normalise_title(title: object, tables: NormalisationTables) -> str:
    """The normalised title as one lower-case string (``""`` when nothing meaningful is left)."""
    return " ".join(normalise_tokens(title, tables))


# Where a title joins two roles: the separators of appended parts, and "/", "&", "+" and " and ".
_ROLE_PARTS = re.compile(r"\s*[,;|/&+]\s*|\s+[-\u2013\u2014]+\s+|\s+(?:and|at)\s+|\s*@\s*", re.IGNORECASE)


def title_parts(title: object) -> list[str]:
    """The parts of a title that may each name a role ("Consultant Surgeon & CCIO" -> two); one part, the
    title itself, when it joins nothing. Parts of one or two letters are dropped."""
    if title is None or (isinstance(title, float) and title != title):
        return []
    parts = [p.strip() for p in _ROLE_PARTS.split(str(title))]
    parts = [p for p in parts if len(p) > 2]
    return parts if len(parts) > 1 else [str(title)]


def token_key(tokens: Iterable[str]) -> str:
    """An order-free key: the same words in any order give the same key."""
    return " ".join(sorted(set(tokens)))
