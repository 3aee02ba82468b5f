"""Commissioning: from a round's stored returns and coded job titles to ranked departments, demand and the map.

Stages: :mod:`.reader` (the round's accepted answers, its stored title coding, distribution and geography)
-> :mod:`.scoring` (weights, departments and every component of a department's score) -> :mod:`.demand`
(training places per stream and area) -> :mod:`trust_survey.maps` (the offline map);
:mod:`.orchestrate` runs them in order for ``candidates``, ``demand`` and ``map``.
"""
