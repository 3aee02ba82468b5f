"""How the title model's probabilities become a decision: shared by the matcher, which combines the model
with the rules, and by the model's own training, which calibrates the thresholds these read.

Kept apart from :mod:`.model` so the matcher does not import the model's training (which codes its
training titles with the matcher's rules).
"""
from __future__ import annotations

import numpy as np

from trust_survey.matching.taxonomy import ALL_STREAMS, NONE

#: How sure the model must be to overrule an automatic coding of the rules' scored matching.
OVERRULE = 0.9


def model_decision(p: np.ndarray, th: dict) -> str:
    """``auto``, ``review`` or ``none`` for one title's stream probabilities ``p`` (in ``ALL_STREAMS``
    order) under the calibrated thresholds ``th`` (``auto``, ``none``, ``review``)."""
    none_i = ALL_STREAMS.index(NONE)
    top = int(p.argmax())
    if top == none_i:
        if p[top] >= th["none"] or max(p[i] for i in range(len(p)) if i != none_i) < th["review"]:
            return "none"
        return "review"
    return "auto" if p[top] >= th["auto"] else "review"
