"""The distribution register: one row per file sent, written beside a built round and recorded in the store.

:func:`register_rows` describes the files built for one organisation; :func:`write_register` writes
``distribution.csv`` into the round's folder (the build's staging folder, so it appears with the files or
not at all); :func:`record_distribution` keeps it in the database, where ``status`` learns whom to expect.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from trust_survey import store
from trust_survey.common.hashing import sha256_file
from trust_survey.instruments.model import Instrument
from trust_survey.writers import write_csv

REGISTER_NAME = "distribution.csv"


def register_rows(inst: Instrument, org: dict, round_: int, paths: list[Path], built_at: str) -> list[dict]:
    """One register row per file built for ``org``: who it is for, which instrument, and the file's hash."""
    return [{
        "org_code": org["org_code"], "org_name": org["org_name"],
        "org_type": org.get("org_type", ""), "region_code": org.get("region_code", ""),
        "icb_code": org.get("icb_code", ""), "contact_email": org.get("contact_email", ""),
        "cc_email": org.get("cc_email", ""), "instrument_id": inst.id, "instrument_version": inst.version,
        "round": round_,
        "file": path.name, "sha256": sha256_file(path), "created": built_at,
    } for path in paths]


def write_register(folder: Path, rows: list[dict]) -> pd.DataFrame:
    """Write ``distribution.csv`` into ``folder``; returns the register."""
    register = pd.DataFrame(rows)
    write_csv(Path(folder) / REGISTER_NAME, register)
    return register


def record_distribution(db_path: Path, round_: int, instrument, rows: pd.DataFrame) -> int:
    """Record who was sent which file for a round; building again updates rows instead of adding them."""
    frame = rows.copy()
    for col in store.DISTRIBUTION_COLUMNS:
        if col not in frame.columns:
            frame[col] = ""
    frame = frame[store.DISTRIBUTION_COLUMNS].astype(str).fillna("")
    frame.insert(0, "instrument_version", int(instrument.version))
    frame.insert(0, "instrument_id", instrument.id)
    frame.insert(0, "round", int(round_))
    frame["recorded_at"] = store.now()
    with store.open_store(Path(db_path)) as con, store.transaction(con):
        con.register("_incoming_distribution", frame)
        try:
            con.execute("""INSERT INTO distribution (round, instrument_id, instrument_version, org_code, org_name,
                           org_type, region_code, icb_code, contact_email, file, sha256, created, recorded_at,
                           cc_email, folder)
                           SELECT round, instrument_id, instrument_version, org_code, org_name,
                           org_type, region_code, icb_code, contact_email, file, sha256, created, recorded_at,
                           cc_email, folder FROM _incoming_distribution
                           ON CONFLICT (round, instrument_id, org_code, file) DO UPDATE SET
                           instrument_version = excluded.instrument_version, org_name = excluded.org_name,
                           org_type = excluded.org_type, region_code = excluded.region_code,
                           icb_code = excluded.icb_code, contact_email = excluded.contact_email,
                           sha256 = excluded.sha256, created = excluded.created,
                           recorded_at = excluded.recorded_at, cc_email = excluded.cc_email,
                           folder = excluded.folder""")
        finally:
            con.unregister("_incoming_distribution")
    return len(frame)
