"""Export a round's current accepted returns as tidy tables: CSV, Excel or SPSS.

One table per instrument version and record type -- the form (one row per organisation) and each
table (one row per organisation and table row) -- plus ``submissions`` (the round's ledger). Each
version is written through its own definition, so no answer is lost when versions differ. Personal
items (names, emails) are left out. Text that a spreadsheet would run (``=``, ``+``, ``-``, ``@``)
is made safe in CSV and Excel; numbers, negative ones included, stay numbers. SPSS files carry the
definition's variable names, variable labels, value labels and measure levels, choices as codes.

Individual questionnaires (audience ``individual``) are exported one row per respondent under their
pseudonymous id, and their free-text answers (text and long-text items) are left out unless
``include_free_text`` is set: comments can name people even when nobody was asked to.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from trust_survey import store
from trust_survey.atomic import staged_files
from trust_survey.errors import NotFoundError, OutputExistsError
from trust_survey.instruments.loader import Registry
from trust_survey.instruments.model import AnswerField, Instrument

FORMATS = ("csv", "xlsx", "sav")
LEDGER_COLUMNS = ["submission_id", "org_code", "org_name", "instrument_id", "instrument_version", "round",
                  "file_name", "format", "received_at", "outcome", "status", "supersedes", "superseded_by",
                  "errors", "warnings", "sha256"]


@dataclass
class ExportResult:
    out_dir: Path
    written: list[Path]


FREE_TEXT = ("text", "long_text")


def _fields(inst: Instrument, record: str, include_free_text: bool = True) -> list[AnswerField]:
    drop_text = not include_free_text and "individual" in inst.audience
    return [f for f in inst.fields() if (f.table or "form") == record and not f.item.personal
            and not (drop_text and f.type in FREE_TEXT and f.field_id != inst.id_item)]


def record_frame(answers: pd.DataFrame, subs: pd.DataFrame, inst: Instrument, record: str,
                 codes: bool, include_free_text: bool = True) -> pd.DataFrame:
    """One record type of one instrument version as a wide table (labels, or codes when ``codes``)."""
    fields = _fields(inst, record, include_free_text)
    mine = answers[answers.table_id.fillna("form") == record]
    keys = ["submission_id"] if record == "form" else ["submission_id", "row_index"]
    base = subs[["submission_id", "org_code"]]
    if record == "form":
        frame = base.copy()
    else:
        rows = mine[keys].drop_duplicates()
        frame = rows.merge(base, on="submission_id")
    frame = frame.sort_values(["org_code"] + keys[1:]).reset_index(drop=True)
    for f in fields:
        col = mine[mine.field_id == f.field_id]
        use_num = f.type in ("integer", "decimal") or (codes and f.choice_list)
        values = col.set_index(keys)["value_num" if use_num else "value"]
        joined = frame.set_index(keys).index.map(lambda k, v=values: v.get(k, None))
        series = pd.Series(list(joined), index=frame.index)
        if f.type == "date":
            series = pd.to_datetime(series, errors="coerce")
        elif use_num:
            series = pd.to_numeric(series, errors="coerce")
        else:
            series = series.astype(object).where(series.notna(), None)
        frame[f.field_id] = series
    order = ["org_code", "submission_id"] + keys[1:] + [f.field_id for f in fields if f.field_id != inst.id_item]
    return frame[order]


def _write_sav(frame: pd.DataFrame, inst: Instrument, record: str, path: Path) -> None:
    import pyreadstat

    from trust_survey.build.spss import spss_variables

    fields = {f.field_id: f for f in _fields(inst, record)}
    used = [fields[c] for c in frame.columns if c in fields]
    meta = spss_variables(inst, used)
    id_var = next(f.var_name for f in inst.fields() if f.field_id == inst.id_item)
    renamed = frame.rename(columns={f.field_id: f.var_name for f in used} | {"org_code": id_var})
    formats = dict(meta["formats"])
    for name, fmt in list(formats.items()):
        if fmt.startswith("A"):
            width = max([int(fmt[1:])] + [len(str(v).encode("utf-8")) for v in renamed[name].dropna()])
            formats[name] = f"A{min(width, 32767)}"
            renamed[name] = renamed[name].map(lambda v: "" if v is None else str(v))
        elif fmt == "EDATE10":
            renamed[name] = pd.to_datetime(renamed[name])
    formats[id_var] = f"A{max([5] + [len(str(v)) for v in renamed[id_var]])}"
    id_label = "Respondent id (pseudonymous)" if "individual" in inst.audience else "ODS organisation code"
    labels = {**meta["labels"], id_var: id_label, "submission_id": "Submission in the ledger"}
    if "row_index" in renamed:
        labels["row_index"] = "Row of the table in the return"
    pyreadstat.write_sav(renamed, str(path), column_labels=labels, variable_value_labels=meta["value_labels"],
                         variable_measure=meta["measure"], variable_format=formats,
                         file_label=f"{inst.id} v{inst.version} {record}"[:64])


LEDGER_INTEGERS = ("submission_id", "round", "supersedes", "superseded_by", "errors", "warnings")


def _integers(inst: Instrument) -> list[str]:
    """Columns of integer items, written as whole numbers (14, not 14.0) in CSV and Excel."""
    return [f.field_id for f in inst.fields() if f.type == "integer"] + ["submission_id", "row_index"]


def export_round(db: Path, registry: Registry, round_: int, fmt: str, out_dir: Path, *,
                 instrument_id: str | None = None, force: bool = False,
                 include_free_text: bool = False) -> ExportResult:
    """Write the round's tidy tables in ``fmt`` into ``out_dir`` (refusing to overwrite without force).

    Individual questionnaires' free-text answers are left out unless ``include_free_text``."""
    from trust_survey.writers import write_csv, write_frames_workbook

    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()) and not force:
        raise OutputExistsError(f"{out_dir}: already exists and is not empty; choose another --out or pass --force")
    with store.open_store(db, read_only=True) as con:
        ledger = con.execute("SELECT * FROM submissions WHERE round = ? ORDER BY org_code, received_at",
                             [round_]).df()
        if instrument_id:
            ledger = ledger[ledger.instrument_id == instrument_id]
        current = ledger[ledger.status.isin(store.ACCEPTED)]
        ids = [int(i) for i in current.submission_id]
        answers = con.execute(f"SELECT * FROM answers WHERE submission_id IN ({','.join('?' * len(ids))})",
                              ids).df() if ids else None
    if ledger.empty:
        raise NotFoundError(f"no returns ingested for round {round_}"
                            + (f" of {instrument_id}" if instrument_id else "") + f" in {db}")
    written: list[str] = []
    with staged_files(out_dir) as staging:
        tables: dict[str, dict[str, pd.DataFrame]] = {}
        for (inst_id, version), subs in current.groupby(["instrument_id", "instrument_version"]):
            inst = registry.get(inst_id, int(version))
            mine = answers[answers.submission_id.isin(subs.submission_id)]
            records = ["form"] + [t.id for _, t in inst.tables()]
            stem = f"{inst.id}_v{inst.version}_{round_}"
            tables[stem] = {}
            for record in records:
                frame = record_frame(mine, subs, inst, record, codes=fmt == "sav",
                                     include_free_text=include_free_text)
                tables[stem][record] = frame
                if fmt == "sav":
                    _write_sav(frame, inst, record, staging / f"{stem}_{record}.sav")
                    written.append(f"{stem}_{record}.sav")
                elif fmt == "csv":
                    write_csv(staging / f"{stem}_{record}.csv", frame, integers=_integers(inst))
                    written.append(f"{stem}_{record}.csv")
            if fmt == "xlsx":
                write_frames_workbook(staging / f"{stem}.xlsx", tables[stem], integers=_integers(inst), filters=False)
                written.append(f"{stem}.xlsx")
        ledger_out = ledger.reindex(columns=LEDGER_COLUMNS)
        name = f"submissions_{round_}.{fmt}"
        if fmt == "csv":
            write_csv(staging / name, ledger_out, integers=LEDGER_INTEGERS)
        elif fmt == "xlsx":
            write_frames_workbook(staging / name, {"submissions": ledger_out}, integers=LEDGER_INTEGERS, filters=False)
        else:
            import pyreadstat

            sav = ledger_out.copy()
            for col in ("supersedes", "superseded_by"):
                sav[col] = pd.to_numeric(sav[col], errors="coerce").astype("float64")
            sav["received_at"] = pd.to_datetime(sav["received_at"])
            pyreadstat.write_sav(sav, str(staging / name), file_label=f"submissions {round_}")
        written.append(name)
    return ExportResult(out_dir, [out_dir / f for f in written])
