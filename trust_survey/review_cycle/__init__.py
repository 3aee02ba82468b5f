"""The review cycle's analysis stages: scale scores and reliability, group comparisons, trends across
rounds and key figures, and reading survey-platform CSV exports into the instrument's field ids.

Every function here takes and returns DataFrames or small dataclasses; nothing prints or writes files
except the thin reader in :mod:`trust_survey.review_cycle.platform_csv`.
"""
