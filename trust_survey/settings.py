"""Where things live by default, and the environment variables that move them.

| what            | option       | environment variable          | default                          |
|-----------------|--------------|-------------------------------|----------------------------------|
| outputs folder  | --out        | TRUST_SURVEY_OUTPUTS          | ./outputs                        |
| database        | --db         | TRUST_SURVEY_DB               | <outputs>/trust_survey.duckdb    |
| instruments     | --instruments| TRUST_SURVEY_INSTRUMENTS      | ./instruments, else the project's|
| role taxonomy   | --taxonomy   | TRUST_SURVEY_TAXONOMY         | ./role_taxonomy.yaml, else the project's |
| reviewed aliases| --overrides  | TRUST_SURVEY_OVERRIDES        | role_overrides.yaml next to the taxonomy |
| title model     | --model      | TRUST_SURVEY_MODEL            | title_model.pkl by the taxonomy, else cached |
"""
from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DATA = Path(__file__).resolve().parent / "data"


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name, "").strip()
    return Path(value).expanduser() if value else None


def _local_or_project(relative: str) -> Path:
    here = Path.cwd() / relative
    return here if here.exists() else PROJECT_ROOT / relative


def outputs_dir() -> Path:
    """The default folder that runs write into."""
    return _env_path("TRUST_SURVEY_OUTPUTS") or Path.cwd() / "outputs"


def db_path() -> Path:
    """The default DuckDB store."""
    return _env_path("TRUST_SURVEY_DB") or outputs_dir() / "trust_survey.duckdb"


def instruments_dir() -> Path:
    """The folder of instrument definitions."""
    return _env_path("TRUST_SURVEY_INSTRUMENTS") or _local_or_project("instruments")


def taxonomy_path() -> Path:
    """The role taxonomy YAML."""
    return _env_path("TRUST_SURVEY_TAXONOMY") or _local_or_project("role_taxonomy.yaml")


def overrides_path() -> Path:
    """Reviewed aliases written by `match review-import`; lives next to the taxonomy it extends."""
    return _env_path("TRUST_SURVEY_OVERRIDES") or taxonomy_path().parent / "role_overrides.yaml"


def model_path() -> Path | None:
    """The title model chosen by environment (None: the one beside the taxonomy, else the shipped one)."""
    return _env_path("TRUST_SURVEY_MODEL")


def reference_dir() -> Path:
    """Shipped reference data (geography, sample organisations)."""
    return _env_path("TRUST_SURVEY_REFERENCE") or PACKAGE_DATA / "reference"
