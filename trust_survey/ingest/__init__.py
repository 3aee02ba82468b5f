"""Ingest: take in returns (workbooks, SPSS, CSV), identify, clean, validate and store them.

Stages: :mod:`.sniff` (what a file is) -> :mod:`.readers` (values, nothing run) -> :mod:`.identify`
(instrument, version, round, organisation) -> :mod:`.extract` (every answer and its cell) ->
:mod:`.clean` (mess normalised, each change a warning) -> :mod:`.validate` (the definition's rules)
-> :mod:`trust_survey.store` -> :mod:`.report`; :mod:`.orchestrate` runs them in order.
"""
