"""Code free-text job titles to a role and a clinical bioinformatics stream.

Stages: :mod:`.taxonomy` loads ``role_taxonomy.yaml`` (the one loader), :mod:`.normalise` cleans titles,
:mod:`.matcher` scores them against the taxonomy and decides auto / review / none, :mod:`.evaluate`
measures the result against labels, and :mod:`.review` runs the human review loop through a workbook and
a versioned overrides file.
"""
from trust_survey.matching.taxonomy import NONE, STREAMS, Taxonomy, load_taxonomy

__all__ = ["NONE", "STREAMS", "Taxonomy", "load_taxonomy"]
