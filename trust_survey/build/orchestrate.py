"""Build a round: every organisation's personalised return, and the distribution register beside them."""
from __future__ import annotations

import datetime as dt
import functools
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

from trust_survey.build.spss import write_spss_templates
from trust_survey.build.workbook import build_workbook
from trust_survey.errors import OutputExistsError
from trust_survey.instruments.layout import build_layout
from trust_survey.instruments.model import Instrument
from trust_survey.atomic import staged_dir
from trust_survey.hashing import sha256_file
from trust_survey.writers import write_csv

REGISTER_NAME = "distribution.csv"
FORMATS = ("xlsx", "sav", "all")


@dataclass
class BuildResult:
    out_dir: Path
    register: pd.DataFrame
    register_path: Path


def file_stem(inst: Instrument, org_code: str, round_: int) -> str:
    return f"{org_code}_{inst.id}_v{inst.version}_{round_}"


def default_deadline(round_: int) -> str:
    """Returns are due by the end of March of the round's following year unless told otherwise."""
    return dt.date(round_ + 1, 3, 31).strftime("%d %B %Y")


def prepare_out_dir(out_dir: Path, force: bool) -> None:
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        if not force:
            raise OutputExistsError(f"{out_dir}: already exists and is not empty; choose another --out or "
                                    "pass --force to replace it")


PARALLEL_FROM = 40  # below this many organisations, starting worker processes costs more than it saves


def _build_one(inst: Instrument, org: dict, round_: int, staging: Path, fmt: str, deadline: str,
               contact: str, built_at: str) -> list[dict]:
    """Build one organisation's files into ``staging``; return their register rows."""
    layout = _layout_for(inst)
    stem = file_stem(inst, org["org_code"], round_)
    paths: list[Path] = []
    if fmt in ("xlsx", "all"):
        path = staging / f"{stem}.xlsx"
        build_workbook(inst, org, round_, path, deadline=deadline, contact=contact, built_at=built_at,
                       layout=layout)
        paths.append(path)
    if fmt in ("sav", "all"):
        paths.extend(write_spss_templates(inst, org, round_, staging / stem))
    return [{
        "org_code": org["org_code"], "org_name": org["org_name"],
        "org_type": org.get("org_type", ""), "region_code": org.get("region_code", ""),
        "icb_code": org.get("icb_code", ""), "contact_email": org.get("contact_email", ""),
        "cc_email": org.get("cc_email", ""), "instrument_id": inst.id, "instrument_version": inst.version, "round": round_,
        "file": path.name, "sha256": sha256_file(path), "created": built_at,
    } for path in paths]


_LAYOUTS: dict[str, object] = {}


def _layout_for(inst: Instrument):
    key = inst.definition_hash()
    if key not in _LAYOUTS:
        _LAYOUTS[key] = build_layout(inst)
    return _LAYOUTS[key]


def build_round(inst: Instrument, orgs: pd.DataFrame, round_: int, out_dir: Path, *, fmt: str = "xlsx",
                force: bool = False, deadline: str | None = None, contact: str | None = None,
                on_progress: Callable[[int], None] = lambda n: None, workers: int | None = None) -> BuildResult:
    """Write each organisation's return into ``out_dir`` plus ``distribution.csv``.

    Files are written into a temporary folder beside ``out_dir`` and moved into place only when
    every one is built, so a failure never leaves a half-built round. Large rounds are built on
    every core; ``on_progress(1)`` is called as each organisation is done.
    """
    out_dir = Path(out_dir)
    prepare_out_dir(out_dir, force)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    deadline = deadline or default_deadline(round_)
    contact = contact or inst.contact_email or ""
    built_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    records = orgs.to_dict("records")
    workers = workers or (min(os.cpu_count() or 1, 4) if len(records) >= PARALLEL_FROM else 1)
    rows: list[dict] = []
    with staged_dir(out_dir, force=True) as staging:   # prepare_out_dir has already applied --force
        job = functools.partial(_build_one, inst, round_=round_, staging=staging, fmt=fmt, deadline=deadline,
                                contact=contact, built_at=built_at)
        if workers > 1 and "fork" in multiprocessing.get_all_start_methods():   # not on Windows: built here
            ctx = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
                for result in pool.map(job, records, chunksize=8):
                    rows.extend(result)
                    on_progress(1)
        else:
            for org in records:
                rows.extend(job(org))
                on_progress(1)
        register = pd.DataFrame(rows)
        write_csv(staging / REGISTER_NAME, register)
    return BuildResult(out_dir, register, out_dir / REGISTER_NAME)
