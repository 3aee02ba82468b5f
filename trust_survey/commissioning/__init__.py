"""Commissioning: from a round's stored returns and coded job titles to ranked departments, demand and the map.

Stages: :mod:`.reader` (the round's accepted answers, its stored title coding, distribution and geography)
-> :mod:`.departments` (each staff row joined to its department) -> :mod:`.scoring` (every component of a
department's score, under the weights of :mod:`.weights`) -> :mod:`.demand` (training places per stream
and area) -> :mod:`.writers` (the workbooks) and :mod:`trust_survey.maps` (the offline map);
:mod:`.orchestrate` runs them in order for ``candidates``, ``demand`` and ``map``.
"""
