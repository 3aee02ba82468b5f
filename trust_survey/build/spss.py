"""SPSS ``.sav`` templates from an instrument definition, for organisations that return SPSS.

A return has form questions (one answer each) and repeating tables, which one flat SPSS file cannot
hold without hundreds of numbered variables. So a template is one file per record type:
``<stem>.sav`` with one case for the form questions (organisation code already filled in) and
``<stem>__<table>.sav`` per table, one case per row, each carrying the organisation code (the
template's single case is blank apart from that code; it sets the string widths). Every
variable has its label, value labels for choices, user-missing codes and a measure level. The file
label and document note carry the instrument id, version, round, organisation and definition hash,
so the file identifies itself when it comes back.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from trust_survey.instruments.model import AnswerField, Instrument

NUMERIC = {"integer", "decimal", "single_choice", "yes_no", "likert"}


def spss_meta_note(inst: Instrument, org_code: str, round_: int, table: str | None = None) -> list[str]:
    """Document lines (SPSS keeps 80 characters a line) that identify the file: ``key=value`` each."""
    parts = {
        "instrument_id": inst.id, "instrument_version": inst.version, "round": round_,
        "org_code": org_code, "record": table or "form", "sha256": inst.definition_hash(),
    }
    return ["trust-survey meta"] + [f"{k}={v}"[:80] for k, v in parts.items()]


def text_width(field: AnswerField) -> int:
    if field.item.max_length:
        return min(field.item.max_length, 32767)
    return {"long_text": 2000, "email": 120, "ods_code": 5, "postcode": 8}.get(field.type, 255)


def spss_variables(inst: Instrument, fields: list[AnswerField]) -> dict:
    labels, formats, value_labels, missing, measure = {}, {}, {}, {}, {}
    lists = inst.lists()
    sentinel = [m.value for m in inst.spss_missing]
    for f in fields:
        name = f.var_name
        labels[name] = f.var_label
        if f.type in NUMERIC:
            formats[name] = "F8.2" if f.type == "decimal" else "F8.0"
            codes = {}
            if f.choice_list:
                for choice in lists[f.choice_list]:
                    codes[float(choice.value)] = choice.label
            for m in inst.spss_missing:
                codes[float(m.value)] = m.label
            value_labels[name] = codes
            user_missing = sentinel + ([c.value for c in lists[f.choice_list] if c.missing] if f.choice_list else [])
            missing[name] = sorted(set(user_missing))[:3]  # SPSS allows at most three discrete missing values
        elif f.type == "date":
            formats[name] = "EDATE10"
        else:
            formats[name] = f"A{text_width(f)}"
        measure[name] = "nominal" if f.option is not None else f.item.default_measure
        if f.type == "date" or formats[name].startswith("A"):
            measure[name] = "nominal"
    return {"labels": labels, "formats": formats, "value_labels": value_labels,
            "missing": missing, "measure": measure}


def _blank_case(fields: list[AnswerField], prefill: dict[str, str]) -> pd.DataFrame:
    """One case with every answer missing. SPSS string widths are set by the data written, so text
    variables get a value of spaces as wide as the variable (read back, it is an empty string)."""
    data = {}
    for f in fields:
        if f.type in NUMERIC:
            data[f.var_name] = pd.Series([np.nan], dtype="float64")
        elif f.type == "date":
            data[f.var_name] = pd.Series([pd.NaT], dtype="datetime64[ns]")
        else:
            width = max(text_width(f), len(prefill.get(f.field_id, "")))
            data[f.var_name] = pd.Series([prefill.get(f.field_id, "").ljust(width)], dtype=object)
    return pd.DataFrame(data)


def table_file_suffix(table_id: str | None) -> str:
    """What a table's file adds to the return's stem: ``RJ1_..._2026__staff.sav`` (nothing for the form)."""
    return f"__{table_id}" if table_id else ""


def record_groups(inst: Instrument) -> list[tuple[str | None, list[AnswerField]]]:
    """The record types of an SPSS or CSV return: the form, then each table led by the id variable."""
    fields = inst.fields()
    id_field = next(f for f in fields if f.field_id == inst.id_item)
    groups: list[tuple[str | None, list[AnswerField]]] = [(None, [f for f in fields if f.table is None])]
    for _, table in inst.tables():
        groups.append((table.id, [id_field] + [f for f in fields if f.table == table.id]))
    return groups


def write_labelled_sav(inst: Instrument, fields: list[AnswerField], df: pd.DataFrame, stem: Path, org_code: str,
                       round_: int, table_id: str | None) -> Path:
    """Write ``df`` as ``<stem><suffix>.sav`` with the definition's labels, formats, missing values and
    measures, and the identifying note; return the path."""
    import pyreadstat

    meta = spss_variables(inst, fields)
    path = stem.with_name(stem.name + table_file_suffix(table_id) + ".sav")
    pyreadstat.write_sav(
        df, str(path),
        file_label=f"{inst.id} v{inst.version} {round_} {org_code}"[:64],
        column_labels=meta["labels"], variable_value_labels=meta["value_labels"],
        missing_ranges=meta["missing"], variable_measure=meta["measure"],
        variable_format=meta["formats"], note=spss_meta_note(inst, org_code, round_, table_id),
    )
    return path


def write_spss_templates(inst: Instrument, org: dict, round_: int, stem: Path) -> list[Path]:
    """Write the form template and one template per table; return the paths written."""
    written = []
    for table_id, fields in record_groups(inst):
        prefill = {inst.id_item: org["org_code"]}
        if table_id is None:
            prefill["org_name"] = org["org_name"]
        written.append(write_labelled_sav(inst, fields, _blank_case(fields, prefill), stem, org["org_code"], round_,
                                          table_id))
    return written
