"""Distribute: what was sent to whom, who has answered, and what goes back to them.

Stages: :mod:`.register` (the distribution register written beside a built round and recorded in the
store) -> :mod:`.status` (who has returned what, whom to chase, what changed between two returns) ->
:mod:`.feedback` (a workbook of issues for each organisation whose return has some).
"""
