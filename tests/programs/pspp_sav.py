#!/usr/bin/env python3
"""Write a real SPSS system file (.sav or .zsav) from a CSV file with GNU PSPP, not with pyreadstat.

    pspp_sav.py [-c none|bytecode|zlib] [-l LABELS.sps] [-k SYNTAX.sps] CSV OUT

CSV  UTF-8, header row of SPSS variable names, one case per line; "quoted" fields are fine.
     A column whose values are all numbers (or empty) is numeric, F with as many decimals as the
     longest fraction; any other column is a string as wide as its longest value in UTF-8 bytes.
     A value with a leading zero ("007") keeps its column a string, as a code would be.
OUT  *.zsav is written zlib-compressed, anything else uncompressed, unless -c says otherwise.
-l   PSPP syntax run after the data are read: VARIABLE LABELS, VALUE LABELS, MISSING VALUES ...
     (PSPP treats a line starting with COMMENT or * as a comment, so no variable may open a line.)
-k   keep the generated syntax here (to see what PSPP was asked to do).
Exit status: 0 written; 1 PSPP reported an error or wrote nothing; 2 bad arguments.
"""
from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import subprocess
import sys
import tempfile

NUMBER = re.compile(r"-?(\d+(\.\d*)?|\.\d+)")
LEADING_ZERO = re.compile(r"-?0\d")
COMPRESSION = {"none": "/UNCOMPRESSED", "bytecode": "/COMPRESSED", "zlib": "/ZCOMPRESSED"}


def quoted(text: str) -> str:
    """A PSPP string literal."""
    return "'" + text.replace("'", "''") + "'"


def column_format(values: list[str]) -> str:
    """The PSPP input format for one column's values."""
    filled = [v.strip() for v in values if v.strip()]
    if all(NUMBER.fullmatch(v) and not LEADING_ZERO.match(v) for v in filled):
        decimals = max((len(v.split(".", 1)[1]) for v in filled if "." in v), default=0)
        width = max([len(v) for v in filled] + [8]) + 1
        return f"F{min(max(width, decimals + 2), 40)}.{min(decimals, 16)}"
    return f"A{max([len(v.encode('utf-8')) for v in values] + [1])}"


def syntax_for(header: list[str], formats: list[str], data: str, labels: str | None, out: str,
               compression: str) -> str:
    variables = "\n".join(f"    {name} {fmt}" for name, fmt in zip(header, formats))
    parts = [f"GET DATA /TYPE=TXT /FILE={quoted(data)} /ENCODING='UTF-8'",
             "  /ARRANGEMENT=DELIMITED /DELCASE=LINE /FIRSTCASE=2 /DELIMITERS=',' /QUALIFIER='\"'",
             f"  /VARIABLES=\n{variables}.", "EXECUTE."]
    if labels:
        parts.append(labels.rstrip() + "\nEXECUTE.")
    parts.append(f"SAVE OUTFILE={quoted(out)} {COMPRESSION[compression]}.")
    return "\n".join(parts) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="pspp_sav.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("-c", dest="compression", choices=sorted(COMPRESSION))
    ap.add_argument("-l", dest="labels", metavar="LABELS.sps")
    ap.add_argument("-k", dest="keep", metavar="SYNTAX.sps")
    ap.add_argument("csv")
    ap.add_argument("out")
    a = ap.parse_args(argv)
    pspp = shutil.which("pspp")
    if not pspp:
        print("pspp_sav.py: GNU PSPP is not installed (apt-get install pspp)", file=sys.stderr)
        return 1
    try:
        with open(a.csv, encoding="utf-8-sig", newline="") as fh:
            rows = [r for r in csv.reader(fh) if r]
        labels = open(a.labels, encoding="utf-8").read() if a.labels else None
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        ap.error(str(e))
    if not rows:
        ap.error(f"{a.csv} has no header row")
    header, cases = rows[0], rows[1:]
    if any(len(r) != len(header) for r in cases):
        ap.error(f"{a.csv}: every row needs {len(header)} fields, like the header")
    formats = [column_format([r[i] for r in cases]) for i in range(len(header))]
    compression = a.compression or ("zlib" if a.out.lower().endswith(".zsav") else "none")

    out = os.path.abspath(a.out)
    work = tempfile.mkdtemp(prefix="pspp-sav.")
    try:
        data = os.path.join(work, "data.csv")
        with open(data, "w", encoding="utf-8", newline="") as fh:   # BOM gone, line ends made one kind
            csv.writer(fh, lineterminator="\n").writerows(rows)
        partial = os.path.join(work, "out" + os.path.splitext(out)[1])
        syntax = syntax_for(header, formats, data, labels, partial, compression)
        script = os.path.join(work, "make.sps")
        with open(script, "w", encoding="utf-8") as fh:
            fh.write(syntax)
        if a.keep:
            shutil.copyfile(script, a.keep)
        done = subprocess.run([pspp, "-O", "format=txt", "-o", os.path.join(work, "listing.txt"), script],
                              capture_output=True, text=True, timeout=300)
        listing = done.stdout + done.stderr
        listing_file = os.path.join(work, "listing.txt")
        if os.path.exists(listing_file):
            listing += open(listing_file, encoding="utf-8", errors="replace").read()
        if done.returncode != 0 or re.search(r"\berror:", listing) or not os.path.exists(partial):
            print(f"pspp_sav.py: PSPP did not write {a.out} (exit {done.returncode}):\n{listing}", file=sys.stderr)
            return 1
        os.makedirs(os.path.dirname(out), exist_ok=True)
        shutil.move(partial, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
