"""A small real store for the commissioning commands: build, simulate and ingest through the real CLI."""
from __future__ import annotations

import csv
from pathlib import Path

from click.testing import CliRunner

from trust_survey.cli import cli
from trust_survey.settings import PACKAGE_DATA

REPO = Path(__file__).resolve().parent.parent
SAMPLE_ORGS = PACKAGE_DATA / "sample" / "orgs.csv"
#: Three regions, a Genomic Laboratory Hub host (RJ1) and an ICB.
ORGS = ["RJ1", "RP4", "RVJ", "RH8", "RQ3", "RX1", "QKK"]


def env_for(root: Path) -> dict[str, str]:
    return {"TRUST_SURVEY_OUTPUTS": str(root / "outputs"), "TRUST_SURVEY_DB": str(root / "outputs" / "ts.duckdb"),
            "TRUST_SURVEY_INSTRUMENTS": str(REPO / "instruments"),
            "TRUST_SURVEY_TAXONOMY": str(REPO / "role_taxonomy.yaml")}


def invoke(env: dict[str, str], *args) -> None:
    result = CliRunner().invoke(cli, [str(a) for a in args], env=env, catch_exceptions=False)
    assert result.exit_code == 0, f"trust-survey {' '.join(map(str, args))}: exit {result.exit_code}\n" \
                                  f"{result.stdout}\n{result.stderr}"


def build_store(root: Path, round_: int = 2026, orgs: list[str] = ORGS, silent: tuple[str, ...] = ()) -> Path:
    """Send the return to ``orgs``, simulate clean replies, drop the ``silent`` ones, ingest, code the job
    titles with ``match run``; return the db."""
    env = env_for(root)
    rows = [r for r in csv.DictReader(SAMPLE_ORGS.open(encoding="utf-8")) if r["org_code"] in orgs]
    missing = set(orgs) - {r["org_code"] for r in rows}
    assert not missing, f"not in the sample orgs: {missing}"
    orgs_csv = root / "orgs.csv"
    with orgs_csv.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    sent, received = root / f"sent_{round_}", root / f"received_{round_}"
    invoke(env, "instruments", "build", "trust_capability", "--orgs", orgs_csv, "--round", round_, "--out", sent,
           "--format", "xlsx", "--force", "--quiet")
    invoke(env, "simulate", "--round", round_, "--orgs", orgs_csv, "--out", received, "--seed", round_, "--force")
    for code in silent:
        for path in received.glob(f"{code}_*"):
            path.unlink()
    invoke(env, "ingest", received, "--round", round_, "--engine", "pandas", "--quiet",
           "--out", root / f"ingest_{round_}", "--force")
    invoke(env, "match", "run", "--round", round_, "--quiet")   # commissioning reads the stored coding only
    return Path(env["TRUST_SURVEY_DB"])
