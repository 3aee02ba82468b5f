"""The review cycle's analysis stages: scale scores and reliability, group comparisons, trends across
rounds and key figures.

Stages: :mod:`.scoring` (scale scores and reliability) -> :mod:`.compare` (group comparisons) ->
:mod:`.trends` (rounds side by side and key figures); :mod:`trust_survey.report` draws what they find.
Every function here takes and returns DataFrames or small dataclasses; nothing prints or writes files.
Survey-platform exports are read where every return is read, in :mod:`trust_survey.ingest`.
"""
