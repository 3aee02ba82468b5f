"""Code free-text job titles to a role and a clinical bioinformatics stream.

Stages: :mod:`.taxonomy` loads ``role_taxonomy.yaml`` (the one loader) and :mod:`.overrides` the reviewed
aliases, :mod:`.normalise` cleans titles, :mod:`.matcher` scores them against the taxonomy (with the title
:mod:`.model` where the rules are not explicit) and decides auto / review / none, :mod:`.coding` codes a
round and keeps the coding in the tables of :mod:`.store`, :mod:`.evaluate` measures the result against
labels (:mod:`.corpus`, :mod:`.files`), and :mod:`.review` runs the human review loop through a workbook
and a versioned overrides file. Coding happens here only: ``match run`` and ``match titles``.
"""
from trust_survey.matching.taxonomy import NONE, STREAMS, Taxonomy, load_taxonomy

__all__ = ["NONE", "STREAMS", "Taxonomy", "load_taxonomy"]
