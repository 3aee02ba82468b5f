"""Read a delimited text file (CSV, or Excel's tab-separated "Unicode text") record by record, or refuse it.

Every CSV the toolkit reads goes through :func:`read_records`: returns, survey-platform exports,
ORGS.csv, title files and reference files. Quoting is RFC 4180 as Python's :mod:`csv` reads it
(``""`` inside a quoted field is one quote; a quoted field may hold the delimiter and line breaks);
only the encoding and the delimiter are sniffed:

- encoding: a UTF-16 byte-order mark (Excel's "Unicode text"), else UTF-8 with or without a BOM, else
  Windows-1252 (Excel's plain "CSV" on Windows), which is reported (``notes``) because accents and £
  signs may then be wrong;
- delimiter: the one of comma, tab, semicolon and bar that splits the first records into the same
  number of fields, more than one.

Every record is checked against the header's width. A file cut off inside a quoted field, or whose last
record is short, is **truncated**; any other record of the wrong width (or a quoted field followed by
text) makes the file **malformed**. Either way :class:`CsvProblem` is raised naming the records, and
nothing of the file is returned, so nothing of it can be stored. Empty lines are skipped, and so are
blank records of another width (a spreadsheet re-save leaves them); blank records of the header's width
are kept for the caller to keep or skip.
Records are counted as records, not lines, so an answer with line breaks counts once.
"""
from __future__ import annotations

import csv
import io
import itertools
from dataclasses import dataclass, field
from pathlib import Path

from trust_survey.errors import InputFileError

DELIMITERS = (",", "\t", ";", "|")
SAMPLE_RECORDS = 50
LISTED = 10   # records named in a refusal message; the count says how many more


class CsvProblem(InputFileError):
    """A delimited file that cannot be read whole. ``code`` is ``F001`` (truncated or malformed),
    ``F010`` (empty) or ``F011`` (too many records); ``records`` are the record numbers at fault."""

    def __init__(self, code: str, message: str, records: list[int] | None = None):
        super().__init__(message, code=code)
        self.message = message
        self.records = list(records or [])


@dataclass
class CsvRecords:
    """A delimited file read whole: the header record and every data record, as text.

    Record numbers count every record (blank ones too) from 1 at the file's first record, as a
    spreadsheet numbers the rows it opens the file into; ``lines`` is the line each record starts on.
    """

    path: Path
    encoding: str
    delimiter: str
    header: list[str]
    records: list[list[str]]          # each exactly the header's width
    numbers: list[int]
    lines: list[int]
    header_number: int = 1
    notes: list[str] = field(default_factory=list)   # W030: read as Windows-1252


CP1252_NOTE = ("the file is not UTF-8; it was read as Windows-1252 (Excel's 'CSV' on Windows). Save as "
               "'CSV UTF-8' to be sure accents and £ signs are right")


def decode(raw: bytes, encoding: str | None = None) -> tuple[str, str, list[str]]:
    """(text, encoding used, notes). ``encoding`` forces one; a byte it cannot decode raises CsvProblem."""
    if encoding:
        try:
            return raw.decode(encoding), encoding, []
        except (UnicodeDecodeError, LookupError) as exc:
            raise CsvProblem("F001", f"cannot be read as {encoding} ({exc}); check --encoding") from None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16"), "utf-16", []
        except UnicodeDecodeError:
            raise CsvProblem("F001", "it starts like UTF-16 text (Excel's 'Unicode text') but is cut short or "
                                     "damaged; save it again and resend") from None
    try:
        return raw.decode("utf-8-sig"), "utf-8", []
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252"), "cp1252", [CP1252_NOTE]
    except UnicodeDecodeError as exc:
        raise CsvProblem("F001", f"it is neither UTF-8 nor Windows-1252 text (byte {exc.start:,} cannot be read); "
                                 "save it again as 'CSV UTF-8' and resend") from None


def _reader(text: str, delimiter: str):
    if csv.field_size_limit() < len(text) + 1:   # one long answer is cut by its reader, not a reason to refuse
        csv.field_size_limit(len(text) + 1)
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"', doublequote=True,
                      strict=True, skipinitialspace=False)


def blank(record: list[str]) -> bool:
    """Whether a record holds nothing but spaces."""
    return not "".join(record).strip()


def sniff_delimiter(text: str) -> str:
    """The delimiter that splits the first records into one consistent width greater than one."""
    best, best_score = ",", (-1.0, 0)
    for delimiter in DELIMITERS:
        widths = []
        try:
            for record in itertools.islice(_reader(text, delimiter), SAMPLE_RECORDS):
                if not blank(record):
                    widths.append(len(record))
        except csv.Error:
            pass   # a sample cut mid-quote still tells the widths before it
        if not widths or widths[0] < 2:
            continue
        same = sum(w == widths[0] for w in widths) / len(widths)
        score = (same, widths[0])
        if score > best_score:
            best, best_score = delimiter, score
    return best


def read_records(path: Path, *, encoding: str | None = None, max_records: int | None = None,
                 text: str | None = None) -> CsvRecords:
    """Read ``path`` (or ``text`` already decoded) whole, or raise :class:`CsvProblem` saying why not.

    ``max_records`` bounds the data records (not lines); beyond it the file is refused (``F011``)
    as soon as the limit is passed, before the rest is read.
    """
    path = Path(path)
    notes: list[str] = []
    used = "utf-8"
    if text is None:
        text, used, notes = decode(path.read_bytes(), encoding)
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise CsvProblem("F010", "the file is empty (no header row); export it again with its header row")
    delimiter = sniff_delimiter(text)
    reader = _reader(text, delimiter)
    header: list[str] | None = None
    header_number = 0
    records: list[list[str]] = []
    numbers: list[int] = []
    lines: list[int] = []
    wrong: list[int] = []
    number = last = width = 0
    line = 1
    widths: dict[int, int] = {}
    try:
        for record in reader:
            number += 1
            start, line = line, reader.line_num + 1
            if blank(record) and (header is None or len(record) != width):
                continue   # an empty line, or a blank row narrower or wider than the header: nothing lost
            if header is None:
                header, header_number = record, number
                width = len(header)
                continue
            last = number
            if len(record) != width:   # even extra blank cells: a field slipped in mid-row leaves one at the end
                wrong.append(number)
                widths[number] = len(record)
                continue
            if max_records is not None and len(records) >= max_records:
                raise CsvProblem("F011", f"it holds more than {max_records:,} records, far more than expected; "
                                         "it was refused unread. Check it is the right file, or split it")
            records.append(record)
            numbers.append(number)
            lines.append(start)
    except csv.Error as exc:
        number += 1
        if "unexpected end of data" in str(exc):
            raise CsvProblem("F001", f"truncated: record {number} (from line {line}) is cut off inside a quoted "
                                     "field, so the file ends part-way through an answer; nothing was read. Download "
                                     "or save it again and resend", [number]) from None
        raise CsvProblem("F001", f"malformed: record {number} (line {reader.line_num}) has text after a quoted "
                                 f"field ({exc}); nothing was read. Save it again as CSV and resend",
                         [number]) from None
    if header is None:
        raise CsvProblem("F010", "the file is empty (no header row); export it again with its header row")
    if wrong:
        listed = ", ".join(f"record {n} has {widths[n]}" for n in wrong[:LISTED])
        more = f" (and {len(wrong) - LISTED:,} more records)" if len(wrong) > LISTED else ""
        if wrong[-1] == last and widths[last] < width:
            raise CsvProblem("F001", f"truncated: the header has {width} fields but {listed}{more}: the "
                                     "last record is short, so the file was cut off part-way through a row; nothing "
                                     "was read. Download or save it again and resend", wrong)
        raise CsvProblem("F001", f"malformed: the header has {width} fields but {listed}{more} (a "
                                 "delimiter or quote mark out of place, e.g. an unquoted comma in a name); nothing "
                                 "was read. Save it again as CSV and resend", wrong)
    return CsvRecords(path, used, delimiter, header, records, numbers, lines, header_number, notes)


def read_head(path: Path, records: int = 1, size: int = 65536) -> list[list[str]]:
    """The first ``records`` non-blank records of a delimited file, read from its first ``size`` bytes only (so
    a file that cannot be read whole can still say what it is); fewer, or none, when even that cannot be read."""
    with open(path, "rb") as fh:
        raw = fh.read(size)
    try:
        text, _, _ = decode(raw)
    except CsvProblem:
        text = raw.decode("utf-8", errors="ignore")
    text = text.lstrip("\ufeff")
    found: list[list[str]] = []
    try:
        for record in _reader(text, sniff_delimiter(text)):
            if not blank(record):
                found.append([cell.strip() for cell in record])
                if len(found) == records:
                    break
    except csv.Error:
        pass
    return found


def read_header(path: Path, size: int = 65536) -> list[str]:
    """The first non-blank record of a delimited file (see :func:`read_head`); ``[]`` when it cannot be read."""
    head = read_head(path, 1, size)
    return head[0] if head else []


def records_frame(path: Path, *, encoding: str | None = None):
    """A delimited file as a DataFrame of text (blank cells ``""``), its header as the column names, blank
    rows left out; a repeated column name gets ``.1``, ``.2`` as pandas gives it. Raises CsvProblem."""
    import pandas as pd

    table = read_records(path, encoding=encoding)
    names: list[str] = []
    for name in table.header:
        names.append(name if name not in names else f"{name}.{names.count(name)}")
    rows = [r for r in table.records if not blank(r)]
    frame = pd.DataFrame(rows, columns=range(len(names)), dtype=object)
    frame.columns = names
    return frame
