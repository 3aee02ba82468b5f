"""Recognise what a file really is from its first bytes, and refuse dangerous ones before reading them.

Extensions lie (a web portal's "export to Excel" is HTML; a CSV renamed .xlsx), so the format comes
from the content: a zip holding ``[Content_Types].xml`` + ``xl/workbook.xml`` is .xlsx (.xlsm with a
VBA project), a zip whose ``mimetype`` is an OpenDocument spreadsheet is .ods, an OLE compound file
is .xls unless it carries an ``EncryptionInfo`` stream (a password-protected Office file), ``$FL2``
/``$FL3`` is SPSS .sav/.zsav, and text is HTML, XML or CSV.

A zip bomb is caught from the zip's central directory (the sizes it declares), before a byte is
inflated: total uncompressed size, per-member compression ratio and member count are all capped.
"""
from __future__ import annotations

import errno
import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path

from trust_survey.ingest.issues import FileProblem

DEFAULT_MAX_MB = 20.0
MAX_UNCOMPRESSED = 256 * 1024 * 1024     # bytes, all members together
MAX_RATIO = 200                          # for a member larger than RATIO_FLOOR uncompressed
RATIO_FLOOR = 8 * 1024 * 1024
MAX_MEMBERS = 5000

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ODS_MIME = b"application/vnd.oasis.opendocument.spreadsheet"
WORKBOOK_KINDS = ("xlsx", "xlsm", "xls", "ods")
DATA_KINDS = ("sav", "zsav", "csv")


@dataclass(frozen=True)
class Sniffed:
    kind: str          # one of WORKBOOK_KINDS or DATA_KINDS
    size: int
    note: str = ""     # e.g. "named .xlsx but holds CSV text"


def _utf16(name: str) -> bytes:
    return name.encode("utf-16-le")


def check_zip(path: Path) -> zipfile.ZipFile:
    """Open a zip's central directory and refuse a bomb; raise FileProblem F001/F003."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise FileProblem("F001", f"damaged or truncated: not a complete zip archive ({exc}); ask the trust "
                                  "to save the workbook again and resend it") from None
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        zf.close()
        raise FileProblem("F003", f"the archive holds {len(infos)} parts (at most {MAX_MEMBERS} expected); "
                                  "refused unread as a possible zip bomb")
    total = 0
    for info in infos:
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > RATIO_FLOOR and ratio > MAX_RATIO:
            zf.close()
            raise FileProblem("F003", f"part '{info.filename}' would inflate {ratio:,.0f}-fold to "
                                      f"{info.file_size / 2**20:,.0f} MB; refused unread as a zip bomb")
    if total > MAX_UNCOMPRESSED:
        zf.close()
        raise FileProblem("F003", f"would inflate to {total / 2**20:,.0f} MB (limit {MAX_UNCOMPRESSED // 2**20} "
                                  "MB); refused unread as a possible zip bomb")
    return zf


def _sniff_zip(path: Path, suffix: str, size: int) -> Sniffed:
    with check_zip(path) as zf:
        names = set(zf.namelist())
        if "mimetype" in names:
            if zf.read("mimetype").strip().startswith(ODS_MIME):
                manifest = "META-INF/manifest.xml"
                if manifest in names and zf.getinfo(manifest).file_size < 2**20 and \
                        b"encryption-data" in zf.read(manifest):
                    raise FileProblem("F004", "password-protected (an encrypted OpenDocument spreadsheet): it cannot "
                                              "be read without the password; ask the trust to save it again without "
                                              "a password (File > Save As, untick 'Save with password') and resend")
                return Sniffed("ods", size, _renamed(suffix, "ods"))
        if "[Content_Types].xml" in names and "xl/workbook.xml" in names:
            macro = "xl/vbaProject.bin" in names or b"macroEnabled" in zf.read("[Content_Types].xml")
            kind = "xlsm" if macro else "xlsx"
            return Sniffed(kind, size, _renamed(suffix, kind))
        if "xl/workbook.bin" in names:
            raise FileProblem("F006", "an Excel Binary Workbook (.xlsb), which is not accepted: ask the trust to open "
                                      "it in Excel and use File > Save As > Excel Workbook (.xlsx), then resend")
        if "word/document.xml" in names:
            raise FileProblem("F006", "a Word document, not a workbook; send the return workbook itself")
    raise FileProblem("F006", "a zip archive but not an Excel or OpenDocument workbook; send the return "
                              "workbook itself (.xlsx)")


def _renamed(suffix: str, kind: str) -> str:
    same = {"xlsx": (".xlsx",), "xlsm": (".xlsm", ".xlsx"), "ods": (".ods",), "xls": (".xls",),
            "sav": (".sav",), "zsav": (".zsav", ".sav"), "csv": (".csv", ".txt")}
    if suffix in same.get(kind, ()):
        return ""
    return f"named {suffix or '(no extension)'} but holds {kind.upper()} content; read as .{kind}"


def _sniff_ole(path: Path, suffix: str, size: int) -> Sniffed:
    data = path.read_bytes()  # bounded by the size limit checked before
    if _utf16("EncryptionInfo") in data or _utf16("EncryptedPackage") in data:
        raise FileProblem("F004", "password-protected (encrypted): it cannot be read without the password; ask "
                                  "the trust to remove the password (File > Info > Protect Workbook) and resend")
    if _utf16("Workbook") in data or _utf16("Book") in data:
        return Sniffed("xls", size, _renamed(suffix, "xls"))
    raise FileProblem("F006", "an Office file that is not a workbook (Word or Outlook?); send the return "
                              "workbook itself")


def _sniff_text(head: bytes, suffix: str, size: int) -> Sniffed:
    if b"\x00" in head[:4096] and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileProblem("F006", f"an unrecognised binary file (starts {head[:8].hex(' ')}); send the return "
                                  "as .xlsx, .ods, .xls, .csv or .sav")
    text = head[:4096].decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n").lower()
    if text.startswith(("<!doctype html", "<html")) or "<table" in text[:2000] or "<body" in text[:2000]:
        raise FileProblem("F005", "a web page (HTML) saved with a spreadsheet name, not a workbook; open it in "
                                  "Excel and use File > Save As > Excel Workbook (.xlsx), then resend")
    if text.startswith("<?xml"):
        raise FileProblem("F006", "an XML spreadsheet (Excel 2003 XML or flat ODS), which is not supported; "
                                  "save it as Excel Workbook (.xlsx) and resend")
    return Sniffed("csv", size, _renamed(suffix, "csv"))


def sniff(path: Path, max_mb: float = DEFAULT_MAX_MB) -> Sniffed:
    """What ``path`` holds; raise FileProblem (F001-F006, F010) for what cannot or must not be read."""
    path = Path(path)
    try:
        # Opened without following a link and without waiting on a pipe, then checked to be a plain
        # file: what was collected as a file may have been swapped for a link since.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        with open(fd, "rb") as fh:
            info = os.fstat(fh.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise FileProblem("F006", "not a plain file (a pipe, device or socket); it was not read")
            size = info.st_size
            if size == 0:
                raise FileProblem("F010", "the file is empty (0 bytes); ask the trust to resend it")
            if size > max_mb * 2**20:
                raise FileProblem("F002", f"the file is {size / 2**20:,.1f} MB, above the {max_mb:g} MB limit; a "
                                          "return is normally under 1 MB (raise the limit with --max-mb if it is "
                                          "genuine)")
            head = fh.read(8192)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise FileProblem("F006", "a symbolic link, which is never followed; copy the file itself and "
                                      "ingest it again") from None
        raise FileProblem("F001", f"cannot be read: {exc.strerror or exc}") from None
    suffix = path.suffix.lower()
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
        return _sniff_zip(path, suffix, size)
    if head.startswith(OLE_MAGIC):
        return _sniff_ole(path, suffix, size)
    if head.startswith(b"$FL2"):
        return Sniffed("sav", size, _renamed(suffix, "sav"))
    if head.startswith(b"$FL3"):
        return Sniffed("zsav", size, _renamed(suffix, "zsav"))
    if suffix in (".xlsx", ".xlsm", ".ods") and head.startswith(b"PK"):
        raise FileProblem("F001", "damaged: the zip archive is incomplete")
    return _sniff_text(head, suffix, size)
