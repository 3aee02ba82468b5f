"""Ingest: take in returns (workbooks, SPSS, CSV, survey-platform exports), identify, clean, validate and store them.

Stages: :mod:`.sniff` (what a file is) -> :mod:`.readers` (values, nothing run; :mod:`.declared` holds a
workbook's stated sizes to a limit first) -> :mod:`.identify` (instrument, version, round, organisation)
-> :mod:`.extract` (every answer and its cell; :mod:`.individual` for many-respondent files and platform
exports, read through :mod:`.platform_layout` and :mod:`.platform_csv`) -> :mod:`.clean` (mess
normalised, each change a warning) -> :mod:`.validate` (the definition's rules, run by :mod:`.engines`) ->
:mod:`trust_survey.store` -> :mod:`.report`; :mod:`.orchestrate` runs them in order, large runs in the
worker processes of :mod:`.pool`. :mod:`.platform_draft` proposes a mapping for
an export never seen before; :mod:`.export` writes the stored round back out as tidy tables.
"""
