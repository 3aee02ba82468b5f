"""Read one round for the commissioning outputs: accepted returns, matched titles, distribution, geography.

The commissioning stage's I/O edge: :func:`load_round` fills a :class:`RoundData` from the store
(current accepted ``trust_capability`` returns only: superseded and rejected returns never count), gives
each job title the coding ``trust-survey match run`` stored for it (it never codes titles itself) and adds
locations and names of regions and ICBs from :mod:`trust_survey.geography` when that is available.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from trust_survey.errors import NotFoundError, TrustSurveyError
from trust_survey.matching.store import round_matches
from trust_survey.matching.taxonomy import load_taxonomy
from trust_survey.store import ACCEPTED, open_store

log = logging.getLogger(__name__)

INSTRUMENT = "trust_capability"


FORM = "form"


@dataclass
class RoundData:
    """What one round's accepted returns say, in the shapes the stage functions take."""

    round: int
    departments: pd.DataFrame
    staff: pd.DataFrame            # with the matcher's stream / relation / decision per row
    capacity: pd.DataFrame         # one row per organisation that returned
    partners: pd.DataFrame
    distribution: pd.DataFrame     # every organisation sent the return, with region / ICB and `returned`
    taxonomy_version: str | None = None
    notes: list[str] = field(default_factory=list)


class NoReturnsError(NotFoundError):
    """No accepted return for the round asked about."""

    code = "CAND001"


class NotMatchedError(TrustSurveyError):
    """The round's job titles have not been coded to streams yet."""

    code = "CAND002"


def answers_to_tables(answers: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Tidy answers -> ``{"form": one row per submission, <table_id>: one row per table row}``.

    In: columns ``submission_id``, ``org_code``, ``round``, ``table_id`` (blank for form items),
    ``row_index``, ``field_id``, ``value``, ``value_num``. The numeric value wins where there is one (choice
    values, counts); text answers keep ``value``. Out: wide frames keyed by ``submission_id``, ``org_code``
    and ``round`` (and ``row_index`` for tables), one column per field id.
    """
    if answers.empty:
        return {FORM: pd.DataFrame(columns=["submission_id", "org_code", "round"])}
    a = answers.copy()
    num = pd.to_numeric(a["value_num"], errors="coerce") if "value_num" in a.columns else None
    text = a["value"].astype(object) if "value" in a.columns else pd.Series([None] * len(a), dtype=object)
    a["answer"] = text.where(num.isna(), num.astype(object)) if num is not None else text
    a["table_id"] = a["table_id"].astype(object).where(a["table_id"].notna() & (a["table_id"].astype(str) != ""),
                                                       FORM) if "table_id" in a.columns else FORM
    keys = ["submission_id", "org_code", "round"]
    out: dict[str, pd.DataFrame] = {}
    for table_id, part in a.groupby("table_id", sort=False):
        index = keys if table_id == FORM else keys + ["row_index"]
        # The organisation's own answer to "ODS code" is the submission's org_code already.
        part = part[~part["field_id"].isin(index)].drop_duplicates(index + ["field_id"], keep="last")
        wide = part.set_index(index + ["field_id"])["answer"].unstack("field_id")
        wide.columns = [str(c) for c in wide.columns]
        out[str(table_id)] = wide.reset_index()
    out.setdefault(FORM, pd.DataFrame(columns=keys))
    return out


def rounds_in_store(db: Path) -> list[int]:
    """Every round the store has a distribution list or a submission for, oldest first."""
    with open_store(Path(db), read_only=True) as con:
        rows = con.execute("SELECT round FROM distribution UNION SELECT round FROM submissions").fetchall()
    return sorted(int(r[0]) for r in rows)


def _accepted_answers(con, round_: int) -> pd.DataFrame:
    placeholders = ", ".join("?" * len(ACCEPTED))
    return con.execute(f"""SELECT a.submission_id, s.org_code, a.round, a.table_id, a.row_index, a.field_id,
                                  a.value, a.value_num
                           FROM answers a JOIN submissions s USING (submission_id)
                           WHERE s.round = ? AND s.instrument_id = ? AND s.status IN ({placeholders})""",
                       [round_, INSTRUMENT, *ACCEPTED]).df()


def _distribution(con, round_: int) -> pd.DataFrame:
    return con.execute("""SELECT org_code, any_value(org_name) AS org_name, any_value(org_type) AS org_type,
                                 any_value(region_code) AS region_code, any_value(icb_code) AS icb_code
                          FROM distribution WHERE round = ? AND instrument_id = ?
                          GROUP BY org_code ORDER BY org_code""", [round_, INSTRUMENT]).df()


def _stored_matches(con, round_: int) -> pd.DataFrame | None:
    """The round's stored codings (what ``match run`` keeps), or None when it has stored none."""
    frame = round_matches(con, round_)
    if frame is None:
        return None
    keep = ["submission_id", "row_index", "stream", "relation", "decision", "role_id", "role", "score", "method",
            "taxonomy_version"]
    return frame[[c for c in keep if c in frame.columns]]


def _with_stored_coding(staff: pd.DataFrame, matches: pd.DataFrame | None, round_: int,
                        notes: list[str]) -> tuple[pd.DataFrame, str | None]:
    """The staff rows with stream / relation / decision from the stored match results.

    Titles are coded in one place only, ``match run``, where the coding is stored and can be reviewed: a
    round it has not coded (or not since later returns came in) is a :class:`NotMatchedError`."""
    if staff.empty:
        return staff.assign(stream=pd.Series(dtype=object), relation=pd.Series(dtype=object),
                            decision=pd.Series(dtype=object)), None
    if matches is None:
        raise NotMatchedError(f"round {round_}: the job titles have not been coded to streams yet (no match "
                              f"results stored for this round); run `trust-survey match run --round {round_}` "
                              "first")
    m = matches.drop_duplicates(["submission_id", "row_index"], keep="last")
    coded = staff.merge(m, on=["submission_id", "row_index"], how="left", suffixes=("", "_match"))
    # A staff row with no title has nothing to code (match run stores titled rows only): it counts nowhere.
    untitled = coded["job_title"].map(_blank) if "job_title" in coded.columns else pd.Series(False, coded.index)
    untitled &= coded["stream"].isna()
    coded.loc[untitled, ["stream", "relation", "decision"]] = ["none", "none", "none"]
    missing = int(coded["stream"].isna().sum())
    if missing:
        raise NotMatchedError(f"round {round_}: {missing} of {len(coded)} job titles have no stored coding "
                              f"(returns ingested after the last match run?); run `trust-survey match run --round "
                              f"{round_}` again")
    versions = sorted({str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)
                       for v in coded["taxonomy_version"].dropna()}) if "taxonomy_version" in coded else []
    version = ", ".join(versions) or None
    current = _current_taxonomy_version()
    if versions and current is not None and versions != [str(current)]:
        notes.append(f"job titles were coded with taxonomy version {version}; the taxonomy is now version "
                     f"{current}: run `trust-survey match run --round {round_}` to recode them")
    return coded, version


def _current_taxonomy_version() -> int | None:
    try:
        return load_taxonomy().version
    except TrustSurveyError:   # no taxonomy here: nothing to compare with
        return None


def load_round(db: Path, round_: int, *, require_returns: bool = True) -> RoundData:
    """Everything the candidates, demand and map need about one round.

    Raises :class:`NoReturnsError` when the round has no accepted return (and ``require_returns``), and
    :class:`NotMatchedError` when its titles have not been coded by ``match run``.
    """
    notes: list[str] = []
    with open_store(Path(db), read_only=True) as con:
        answers = _accepted_answers(con, round_)
        dist = _distribution(con, round_)
        matches = _stored_matches(con, round_)
    if answers.empty and require_returns:
        raise NoReturnsError(f"round {round_}: no accepted {INSTRUMENT} returns in {db}; see which organisations "
                             f"have returned with `trust-survey status --round {round_}`")
    tables = answers_to_tables(answers)
    labels = answers_to_tables(answers.assign(value_num=None)) if len(answers) else tables
    form = tables[FORM]
    returned = set(form["org_code"].astype(str))

    if dist.empty:
        notes.append("no distribution list recorded for this round: organisations that did not return are unknown")
        dist = pd.DataFrame({"org_code": sorted(returned)})
    dist = dist.copy()
    dist["org_code"] = dist["org_code"].astype(str)
    extra = sorted(returned - set(dist["org_code"]))
    if extra:
        dist = pd.concat([dist, pd.DataFrame({"org_code": extra})], ignore_index=True)
    names = form.set_index("org_code")["org_name"] if "org_name" in form.columns else pd.Series(dtype=object)
    dist["org_name"] = [n if isinstance(n, str) and n.strip() else names.get(c, c)
                        for c, n in zip(dist["org_code"], _get(dist, "org_name"))]
    dist["returned"] = dist["org_code"].isin(returned)
    dist = _with_geography(dist, round_)

    org_cols = ["org_code", "org_name", "region_code", "region_name", "icb_code", "icb_name", "lat", "lon"]
    org_info = dist[[c for c in org_cols if c in dist.columns]]
    if "org_name" in form.columns:
        form = form.drop(columns=["org_name"]).merge(org_info[["org_code", "org_name"]], on="org_code", how="left")

    departments = _table(tables, "departments")
    if len(departments):
        departments["dept_type"] = _table(labels, "departments").get("dept_type")
    departments = departments.merge(org_info, on="org_code", how="left", suffixes=("", "_org"))
    departments = _geocode_departments(departments)

    staff = _table(tables, "staff")
    staff, taxonomy_version = _with_stored_coding(staff, matches, round_, notes)
    capacity = form.drop_duplicates("org_code", keep="last").reset_index(drop=True)
    partners = _table(tables, "partners")
    return RoundData(round_, departments, staff, capacity, partners, dist, taxonomy_version, notes)


def _get(df: pd.DataFrame, column: str) -> pd.Series:
    return df[column] if column in df.columns else pd.Series([None] * len(df), index=df.index, dtype=object)


def _table(tables: dict[str, pd.DataFrame], name: str) -> pd.DataFrame:
    frame = tables.get(name)
    if frame is None:
        return pd.DataFrame(columns=["submission_id", "org_code", "round", "row_index"])
    return frame.sort_values(["org_code", "submission_id", "row_index"]).reset_index(drop=True)


# ---------------------------------------------------------------------------------------------- geography
def _geography():
    try:
        from trust_survey import geography
    except ImportError:  # pragma: no cover - geography ships with the toolkit
        return None
    return geography


def icb_vintage(round_: int) -> int:
    """The ICB set in force for a round's returns (2022: the 42 ICBs; 2026: the 36 from April 2026)."""
    geo = _geography()
    if geo is not None:
        return geo.icb_vintage_for(round_)
    return 2026 if round_ >= 2026 else 2022


def _blank(value) -> bool:
    return value is None or (isinstance(value, float) and value != value) or not str(value).strip()


def _with_geography(dist: pd.DataFrame, round_: int) -> pd.DataFrame:
    """Region and ICB (codes of the round's ICB vintage, and names) and the organisation's location.

    Codes come from the reference trusts table for the round's vintage when the organisation (or the
    trust that took it over) is in it, else from the distribution list; locations are the trust's
    headquarters postcode centroid.
    """
    out = dist.copy()
    for col in ("region_code", "region_name", "icb_code", "icb_name", "lat", "lon"):
        if col not in out.columns:
            out[col] = None
    geo = _geography()
    if geo is None:
        return out
    vintage = icb_vintage(round_)
    trusts = geo.load_trusts().set_index("org_code")
    lookup = [c if c in trusts.index else geo.resolve_successor(c) for c in out["org_code"]]
    known = [c in trusts.index for c in lookup]
    icb_col = f"icb_ods_{vintage}"

    def pick(ref_col: str, current: pd.Series) -> list:
        return [trusts.at[c, ref_col] if k and not _blank(trusts.at[c, ref_col]) else v
                for c, k, v in zip(lookup, known, current)]

    out["region_code"] = pick("region_ods", out["region_code"])
    if icb_col in trusts.columns:
        out["icb_code"] = pick(icb_col, out["icb_code"])
    out["lat"] = pd.to_numeric(pd.Series(pick("lat", out["lat"]), index=out.index), errors="coerce")
    out["lon"] = pd.to_numeric(pd.Series(pick("lon", out["lon"]), index=out.index), errors="coerce")
    icb_table = geo.load_icbs(vintage).set_index("icb_ods")
    # An ICB's own return belongs to that ICB (and its region).
    is_icb = out["org_code"].isin(icb_table.index)
    out.loc[is_icb, "icb_code"] = out.loc[is_icb, "org_code"]
    out.loc[is_icb, "region_code"] = out.loc[is_icb, "org_code"].map(icb_table["region_ods"])
    regions = geo.load_regions().set_index("region_ods")["region_name"]
    icbs = icb_table["icb_name"]
    pairs = zip(out["region_code"], out["region_name"])
    out["region_name"] = [regions.get(c, n) if not _blank(c) else n for c, n in pairs]
    out["icb_name"] = [icbs.get(c, n) if not _blank(c) else n for c, n in zip(out["icb_code"], out["icb_name"])]
    return out


def _geocode_departments(departments: pd.DataFrame) -> pd.DataFrame:
    """Department lat/lon from its site postcode (``geo_source`` says how); else its organisation's location."""
    out = departments.copy()
    org_lat = pd.to_numeric(out["lat"], errors="coerce") if "lat" in out else pd.Series(float("nan"), index=out.index)
    org_lon = pd.to_numeric(out["lon"], errors="coerce") if "lon" in out else pd.Series(float("nan"), index=out.index)
    out["lat"], out["lon"], out["geo_source"] = float("nan"), float("nan"), "not_found"
    geo = _geography()
    if geo is not None and "dept_postcode" in out.columns and len(out):
        keys = out["dept_postcode"].map(lambda p: "" if _blank(p) else geo.normalise_postcode(p))
        found = geo.geocode_postcodes(keys[keys != ""].tolist()).set_index("postcode")
        hit = keys.isin(found.index[found["lat"].notna()])
        out.loc[hit, "lat"] = keys[hit].map(found["lat"])
        out.loc[hit, "lon"] = keys[hit].map(found["lon"])
        out.loc[hit, "geo_source"] = keys[hit].map(found["source"])
    fallback = out["lat"].isna() & org_lat.notna()
    out.loc[fallback, "lat"] = org_lat[fallback]
    out.loc[fallback, "lon"] = org_lon[fallback]
    out.loc[fallback, "geo_source"] = "organisation"
    return out


def area_boundaries(level: str, round_: int) -> dict | None:
    """GeoJSON of the regions or ICBs in force for the round, or None when there is no boundary file."""
    geo = _geography()
    if geo is None:
        return None
    return geo.boundaries(level, icb_vintage(round_))


def area_points(distribution: pd.DataFrame, level: str) -> pd.DataFrame | None:
    """Centre of each area from the locations of its organisations (for circles when there are no boundaries)."""
    code = {"region": "region_code", "icb": "icb_code"}.get(level)
    if code is None or code not in distribution.columns:
        return None
    located = distribution.dropna(subset=["lat", "lon"])
    if located.empty:
        return None
    located = located.assign(lat=pd.to_numeric(located["lat"]), lon=pd.to_numeric(located["lon"]))
    return (located.groupby(code, as_index=False)[["lat", "lon"]].mean()
            .rename(columns={code: "group_code"}))
