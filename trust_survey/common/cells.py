"""Spreadsheet cell addresses: column letters and numbers (A = 1, Z = 26, AA = 27), ``B7``-style refs.

Plain functions so that reading a return does not import openpyxl just to name a column.
"""
from __future__ import annotations


def col_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


def col_letter(n: int) -> str:
    out = ""
    while n:
        n, rem = divmod(n - 1, 26)
        out = chr(65 + rem) + out
    return out


def address(row: int, col: int) -> str:
    return f"{col_letter(col)}{row}"
