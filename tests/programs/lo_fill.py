#!/usr/bin/env python3
"""Type values into a workbook inside a real, headless LibreOffice and save it, as a trust would.

    lo_fill.py IN OUT [--set 'Sheet!B2=value' ...] [--text 'Sheet!D2=007' ...] [--recalc] [--strict] [--json]

--set    the value as typed: a plain number becomes a number, '=...' a formula, anything else text.
--text   the value is always stored as text (leading zeros, a literal '=...').
--recalc recalculate every formula before saving.
--strict a value that breaks its cell's data validation stops the run (exit 3, OUT not written), as a
         drop-down with a "stop" alert does; without it such cells are saved and listed under "invalid".
--json   print the report as JSON (keys: cells, invalid, refused, error) instead of lines of text.

A locked cell on a protected sheet is refused (exit 3, OUT not written): nobody could type there.
Validity is judged by LibreOffice itself (Tools > Detective > Mark Invalid Data), not by this script.
OUT's extension picks the format: .xlsx .xls .ods .fods .csv (first sheet). Missing folders are made.
Exit status: 0 saved; 1 LibreOffice failed; 2 bad arguments; 3 refused.

Needs soffice (libreoffice-calc-nogui) and Python-UNO (python3-uno). Any Python 3.11 can run it: when
`uno` is not importable (a virtualenv), the folder the system python3 imports it from is added.
Every run starts its own soffice with a throw-away profile and a private pipe, and stops it after.
Also imported as a module by tests that need LibreOffice for something else (see start_office()).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

FILTERS = {
    ".xlsx": "Calc Office Open XML",
    ".xls": "MS Excel 97",
    ".ods": "calc8",
    ".fods": "OpenDocument Spreadsheet Flat XML",
    ".csv": "Text - txt - csv (StarCalc)",
}
NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
TARGET = re.compile(r"(?P<sheet>[^!]+)!(?P<cell>\$?[A-Za-z]{1,3}\$?\d+)=(?P<value>.*)", re.S)


class Refused(Exception):
    """A cell the user could not have typed into, or a value its validation stops."""


def import_uno():
    """The `uno` module: our own interpreter's, else the one Debian's python3-uno installs for python3."""
    try:
        import uno
        return uno
    except ImportError:
        pass
    for python in dict.fromkeys(p for p in ("/usr/bin/python3", shutil.which("python3")) if p):
        found = subprocess.run([python, "-c", "import os, uno; print(os.path.dirname(uno.__file__))"],
                               capture_output=True, text=True)
        folder = found.stdout.strip()
        if found.returncode == 0 and folder:
            sys.path.append(folder)
            try:
                import uno
                return uno
            except ImportError:
                sys.path.remove(folder)
    raise SystemExit("lo_fill.py: Python-UNO is not installed (apt-get install python3-uno)")


def start_office(profile: str, pipe: str) -> subprocess.Popen:
    """Start a headless soffice with its own profile folder, listening on a named pipe."""
    soffice = shutil.which("soffice")
    if not soffice:
        raise SystemExit("lo_fill.py: soffice is not installed (apt-get install libreoffice-calc-nogui)")
    url = "file://" + os.path.abspath(profile).replace(os.sep, "/")
    return subprocess.Popen(
        [soffice, "--headless", "--invisible", "--nologo", "--norestore", "--nodefault", "--nolockcheck",
         f"-env:UserInstallation={url}", f"--accept=pipe,name={pipe};urp;StarOffice.ComponentContext"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def connect(uno, pipe: str, proc: subprocess.Popen, timeout: float = 180):
    """The office's component context, once it answers on the pipe (a first start can be slow)."""
    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
    deadline = time.monotonic() + timeout
    while True:
        try:
            return resolver.resolve(f"uno:pipe,name={pipe};urp;StarOffice.ComponentContext")
        except Exception:
            if proc.poll() is not None and proc.returncode != 0:
                raise RuntimeError(f"soffice stopped with exit status {proc.returncode} before it answered")
            if time.monotonic() > deadline:
                raise RuntimeError(f"soffice did not answer on pipe {pipe} within {timeout:.0f} s")
            time.sleep(0.5)


def stop_office(proc: subprocess.Popen, desktop=None) -> None:
    """Ask the office to quit; kill its process group (soffice is a wrapper around soffice.bin) if it won't."""
    if desktop is not None:
        try:
            desktop.terminate()
        except Exception:
            pass  # the bridge goes down with the office
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def prop(uno, name: str, value):
    """A com.sun.star.beans.PropertyValue."""
    p = uno.createUnoStruct("com.sun.star.beans.PropertyValue")
    p.Name, p.Value = name, value
    return p


def parse_target(spec: str, as_text: bool) -> tuple[str, str, str, str]:
    """'Sheet!B2=value' -> (sheet, cell, kind, value); kind is number, formula or text."""
    m = TARGET.fullmatch(spec)
    if not m:
        raise ValueError(f"{spec!r} is not SHEET!CELL=VALUE (e.g. 'Staff!C2=Band 7')")
    value = m["value"]
    if as_text:
        kind = "text"
    elif NUMBER.fullmatch(value.strip()):
        kind = "number"
    elif value.startswith("="):
        kind = "formula"
    else:
        kind = "text"
    return m["sheet"], m["cell"].replace("$", "").upper(), kind, value


def _circled(sheet, cell, first: int) -> bool:
    """True when the Detective drew an invalid-data circle (a shape from index `first` on) over this cell."""
    pos, size = cell.Position, cell.Size
    page = sheet.DrawPage
    for i in range(first, page.Count):
        shape = page.getByIndex(i)
        if shape.ShapeType != "com.sun.star.drawing.EllipseShape":
            continue
        s_pos, s_size = shape.Position, shape.Size
        cx, cy = s_pos.X + s_size.Width / 2, s_pos.Y + s_size.Height / 2
        if pos.X <= cx <= pos.X + size.Width and pos.Y <= cy <= pos.Y + size.Height:
            return True
    return False


def fill(desktop, uno, infile: str, outfile: str, targets, recalc: bool, strict: bool, report: dict) -> None:
    work = tempfile.mkdtemp(prefix="lo-fill-doc.")
    try:
        copy = os.path.join(work, "in" + os.path.splitext(infile)[1].lower())
        shutil.copyfile(infile, copy)
        doc = desktop.loadComponentFromURL(uno.systemPathToFileUrl(copy), "_blank", 0,
                                           (prop(uno, "Hidden", True),))
        if doc is None:
            raise RuntimeError(f"LibreOffice could not open {infile}")
        try:
            sheets = doc.Sheets
            for sheet_name, ref, kind, value in targets:
                where = f"{sheet_name}!{ref}"
                if not sheets.hasByName(sheet_name):
                    report["refused"].append(f"{where}: no such sheet (sheets: {', '.join(sheets.ElementNames)})")
                    continue
                sheet = sheets.getByName(sheet_name)
                cell = sheet.getCellRangeByName(ref)
                if sheet.isProtected() and cell.CellProtection.IsLocked:
                    report["refused"].append(f"{where}: locked cell on a protected sheet")
                    continue
                if kind == "number":
                    cell.setValue(float(value))
                elif kind == "formula":
                    cell.setFormula(value)
                else:
                    cell.setString(value)
                report["cells"].append({"cell": where, "kind": kind, "value": value})
            if report["refused"]:
                raise Refused("a cell nobody could type into")
            if recalc:
                doc.calculateAll()
            for sheet_name in dict.fromkeys(c["cell"].split("!")[0] for c in report["cells"]):
                sheet = sheets.getByName(sheet_name)
                shapes_before = sheet.DrawPage.Count     # the sheet's own drawings are not circles of ours
                sheet.showInvalid()
                for c in report["cells"]:
                    if c["cell"].startswith(sheet_name + "!") and _circled(sheet, sheet.getCellRangeByName(
                            c["cell"].split("!", 1)[1]), shapes_before):
                        report["invalid"].append(c["cell"])
                sheet.clearArrows()
            if strict and report["invalid"]:
                report["refused"] += [f"{c}: value fails the cell's data validation" for c in report["invalid"]]
                raise Refused("invalid value")
            ext = os.path.splitext(outfile)[1].lower()
            args = [prop(uno, "FilterName", FILTERS[ext]), prop(uno, "Overwrite", True)]
            if ext == ".csv":
                args.append(prop(uno, "FilterOptions", "44,34,76,1"))
            saved = os.path.join(work, "out" + ext)
            doc.storeToURL(uno.systemPathToFileUrl(saved), tuple(args))
            os.makedirs(os.path.dirname(os.path.abspath(outfile)), exist_ok=True)
            shutil.move(saved, outfile)
        finally:
            doc.close(True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="lo_fill.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("infile")
    ap.add_argument("outfile")
    ap.add_argument("--set", action="append", default=[], metavar="SHEET!CELL=VALUE")
    ap.add_argument("--text", action="append", default=[], metavar="SHEET!CELL=TEXT")
    ap.add_argument("--recalc", action="store_true")
    ap.add_argument("--strict", action="store_true")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    if os.path.splitext(a.outfile)[1].lower() not in FILTERS:
        ap.error(f"OUT must end in one of {', '.join(FILTERS)}")
    if not os.path.isfile(a.infile):
        ap.error(f"{a.infile}: no such file")
    try:
        targets = [parse_target(s, False) for s in a.set] + [parse_target(s, True) for s in a.text]
    except ValueError as e:
        ap.error(str(e))

    uno = import_uno()
    report = {"infile": a.infile, "outfile": a.outfile, "cells": [], "invalid": [], "refused": [], "error": None}
    profile = tempfile.mkdtemp(prefix="lo-fill-profile.")
    pipe = f"lo_fill_{os.getpid()}_{int(time.time() * 1000)}"
    proc = start_office(profile, pipe)
    desktop = None
    status = 0
    try:
        ctx = connect(uno, pipe, proc)
        desktop = ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
        fill(desktop, uno, a.infile, a.outfile, targets, a.recalc, a.strict, report)
    except Refused:
        status = 3
    except Exception as e:  # anything from UNO: report it, never leave soffice behind
        report["error"] = f"{type(e).__name__}: {e}"
        status = 1
    finally:
        stop_office(proc, desktop)
        shutil.rmtree(profile, ignore_errors=True)

    if a.json:
        print(json.dumps(report, indent=1))
    else:
        for c in report["cells"]:
            print(f"set {c['cell']} ({c['kind']}) = {c['value']}")
        for c in report["invalid"]:
            print(f"invalid {c}: breaks the cell's data validation")
    for r in report["refused"]:
        print(f"lo_fill.py: refused {r}; {a.outfile} not written", file=sys.stderr)
    if report["error"]:
        print(f"lo_fill.py: {report['error']}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
