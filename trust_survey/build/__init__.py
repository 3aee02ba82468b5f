"""Build what HEE sends out: personalised workbooks, SPSS templates and codebooks.

Stages: :mod:`.orgs` (the organisations to send to) -> :mod:`.workbook` (each one's personalised return)
and :mod:`.spss` (SPSS templates) -> :mod:`.orchestrate` (the round, with its distribution register written
by :mod:`trust_survey.distribute.register`); :mod:`.codebook` documents an instrument for analysts.
"""
