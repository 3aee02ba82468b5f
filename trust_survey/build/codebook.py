"""The codebook of an instrument: every variable, its label, type, allowed values and source item."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from trust_survey.errors import InputFileError
from trust_survey.instruments.layout import FormCell, build_layout
from trust_survey.instruments.model import Instrument
from trust_survey.atomic import write_atomic
from trust_survey.common.safe_text import write_frame_sheet
from trust_survey.writers import save_workbook

COLUMNS = ["variable", "label", "type", "allowed_values", "required", "item_id", "field_id", "section",
           "sheet", "table", "cell", "measure", "spss_missing", "reverse_keyed", "help"]


def _allowed(inst: Instrument, field) -> str:
    item = field.item
    if field.choice_list:
        return "; ".join(f"{c.value}={c.label}" + (" (missing)" if c.missing else "")
                         for c in inst.lists()[field.choice_list])
    if field.type in ("integer", "decimal"):
        lo = "" if item.min is None else f"{item.min:g}"
        hi = "" if item.max is None else f"{item.max:g}"
        return f"{lo} to {hi}".strip() if lo or hi else "any number"
    if field.type == "date":
        return f"{item.min_date or ''} to {item.max_date or ''}".strip()
    if field.type == "ods_code":
        return "3 to 5 letters and digits"
    if item.max_length:
        return f"up to {item.max_length} characters"
    return ""


def codebook_frame(inst: Instrument) -> pd.DataFrame:
    """One row per variable (answer field) of the instrument."""
    layout = build_layout(inst)
    missing = "; ".join(f"{m.value}={m.label}" for m in inst.spss_missing)
    rows = []
    for field in inst.fields():
        where = layout.locate(field.field_id)
        cell = where.address if isinstance(where, FormCell) else f"{where.letter}{where.first_row}:{where.last_row}"
        rows.append({
            "variable": field.var_name, "label": field.var_label, "type": field.type,
            "allowed_values": _allowed(inst, field), "required": "yes" if field.item.required else "no",
            "item_id": field.item.id, "field_id": field.field_id, "section": field.section.id,
            "sheet": where.sheet, "table": field.table or "", "cell": cell,
            "measure": "nominal" if field.option else field.item.default_measure,
            "spss_missing": missing if field.type in ("integer", "decimal", "single_choice", "yes_no", "likert")
            else "", "reverse_keyed": "yes" if field.item.reverse else "",
            "help": field.item.help or "",
        })
    return pd.DataFrame(rows, columns=COLUMNS)


def _markdown(inst: Instrument, df: pd.DataFrame) -> str:
    def esc(v) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = [f"# Codebook: {inst.title}", "",
             f"Instrument `{inst.id}` version {inst.version}; definition sha256 `{inst.definition_hash()}`.", ""]
    shown = ["variable", "label", "type", "allowed_values", "required", "item_id", "sheet", "cell"]
    lines.append("| " + " | ".join(shown) + " |")
    lines.append("|" + "---|" * len(shown))
    for rec in df[shown].itertuples(index=False):
        lines.append("| " + " | ".join(esc(v) for v in rec) + " |")
    if inst.scales:
        lines += ["", "## Scales", ""]
        for s in inst.scales:
            lines.append(f"- `{s.id}` {s.label}: mean of {', '.join(s.items)} (at least {s.min_answered} "
                         f"answered; reverse-keyed items flipped){'; higher = ' + s.higher_means if s.higher_means else ''}")
    return "\n".join(lines) + "\n"


def write_codebook(inst: Instrument, path: Path) -> Path:
    """Write the codebook as .xlsx or .md, chosen by the file extension."""
    path = Path(path)
    df = codebook_frame(inst)
    suffix = path.suffix.lower()
    if suffix not in (".xlsx", ".md", ".markdown"):
        raise InputFileError(f"{path}: codebook format '{suffix or '(none)'}' not supported; use .xlsx or .md",
                             code="CB001")
    if suffix == ".xlsx":
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.active
        ws.title = "Codebook"
        write_frame_sheet(ws, df, lambda v: None if v is None or (isinstance(v, float) and v != v) else v,
                          filters=False)
        for col, width in zip("ABCDEFGHIJKLMNO", (18, 50, 14, 50, 9, 18, 22, 14, 16, 12, 10, 10, 20, 8, 50)):
            ws.column_dimensions[col].width = width
        return save_workbook(wb, path, force=True)
    text = _markdown(inst, df)
    return write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"), force=True)
