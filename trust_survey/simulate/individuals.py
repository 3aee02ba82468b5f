"""Simulated answers to the individual review questionnaire (trainees, current and former staff).

Group sizes follow the report's survey (12 trainees, 4 current, 5 former clinical bioinformaticians,
scaled to ``n``), streams follow trainees since 2013 (genomics 96, health informatics 29, physical
sciences 36), and each group's mean equity-sensitivity score (mean of the scale's Likert items after
reverse keying, 1 to 5) is steered to the report's figures: trainees 4.03, current 4.24, former 4.14.
These are sanity figures for testing analysis code, not data.
"""
from __future__ import annotations

import random

import pandas as pd

from trust_survey.instruments.model import Instrument
from trust_survey.simulate import vocabulary as V

GROUP_WEIGHTS = {"trainee": 12, "current": 4, "former": 5}
#: Target group means per scale (after reverse keying); equity figures from the report, others plausible.
SCALE_TARGETS = {
    "equity_sensitivity": {"trainee": 4.03, "current": 4.24, "former": 4.14, "manager": 4.1},
    "retention": {"trainee": 3.8, "current": 3.5, "former": 2.4, "manager": 3.7},
    "utilisation": {"trainee": 3.4, "current": 3.0, "former": 2.5, "manager": 3.4},
}
STREAM_WEIGHTS = {"gen": 96, "hi": 29, "ps": 36}
OTHER_TRUSTS = ("RRK", "RTH", "RR8", "RHM", "RX1", "RWE", "RM1", "RJ7", "RW3", "RAL")


def _allocate(n: int, weights: dict[str, float]) -> list[str]:
    """Split n between groups in proportion to weights (largest remainder)."""
    total = sum(weights.values())
    exact = {g: n * w / total for g, w in weights.items()}
    counts = {g: int(x) for g, x in exact.items()}
    for g in sorted(exact, key=lambda g: exact[g] - counts[g], reverse=True)[: n - sum(counts.values())]:
        counts[g] += 1
    return [g for g, c in counts.items() for _ in range(c)]


def _clip(x: float) -> int:
    return max(1, min(5, round(x)))


def simulate_individuals(inst: Instrument, n: int, round_: int, seed: int,
                         groups: dict[str, float] | None = None) -> pd.DataFrame:
    """``n`` respondents' answers: one row each, one column per item id.

    Choice items hold the choice code (``group``: trainee/current/former/manager, ``stream``:
    gen/hi/ps/na, ``training_year``: y1/y2/y3/na), Likert items the raw answer 1-5 as entered
    (reverse-keyed items not yet reversed), text items are blank. ``groups`` overrides the group
    weights (default: the report's 12/4/5).
    """
    rng = random.Random(f"{seed}:individuals:{round_}")
    members = _allocate(n, groups or GROUP_WEIGHTS)
    rng.shuffle(members)
    items = {i.id: i for _, i in inst.form_items()}
    lists = inst.lists()
    scale_of = {item: s for s in inst.scales for item in s.items}
    rows = []
    for k, group in enumerate(members, start=1):
        stream = rng.choices(list(STREAM_WEIGHTS), weights=list(STREAM_WEIGHTS.values()))[0]
        if group == "manager" and rng.random() < 0.3:
            stream = "na"
        at_glh = stream == "gen" and rng.random() < 0.7
        trust = rng.choice(sorted(V.GLH_HOSTS)) if at_glh else rng.choice(OTHER_TRUSTS)
        years = {"trainee": rng.randint(0, 3), "current": rng.randint(3, 20), "former": rng.randint(2, 12),
                 "manager": rng.randint(8, 30)}.get(group, rng.randint(0, 20))
        row = {"respondent_id": f"IR{round_}-{k:04d}", "group": group, "stream": stream, "trust_code": trust,
               "training_year": f"y{rng.randint(1, 3)}" if group == "trainee" else "na", "years_nhs": years}
        latent = {s.id: SCALE_TARGETS.get(s.id, {}).get(group, 3.5) + rng.gauss(0, 0.35) for s in inst.scales}
        for item_id, item in items.items():
            if item_id in row:
                continue
            if item.type == "likert":
                scale = scale_of.get(item_id)
                keyed = _clip((latent[scale.id] if scale else 3.5) + rng.gauss(0, 0.6))
                row[item_id] = 6 - keyed if item.reverse else keyed
            elif item.type == "single_choice":
                row[item_id] = rng.choice([c.key for c in lists[item.choice_list] if not c.missing])
            elif item.type == "integer":
                row[item_id] = int(item.min or 0)
            else:
                row[item_id] = None
        rows.append(row)
    df = pd.DataFrame(rows, columns=[i for i in items if i in rows[0]] if rows else list(items))
    for scale in inst.scales:
        _steer(df, inst, scale, rng)
    for item_id, item in items.items():
        if item.type in ("likert", "integer") and item_id in df:
            df[item_id] = df[item_id].astype("Int64")
    return df


def _steer(df: pd.DataFrame, inst: Instrument, scale, rng: random.Random) -> None:
    """Nudge single answers one point at a time until each group's mean scale score is on target."""
    targets = SCALE_TARGETS.get(scale.id)
    if not targets or df.empty:
        return
    reverse = {i: inst.item(i).reverse for i in scale.items}

    def keyed(r: int, item: str) -> int:
        v = int(df.at[r, item])
        return 6 - v if reverse[item] else v

    for group, target in targets.items():
        members = list(df.index[df["group"] == group])
        if not members:
            continue
        step = 1 / (len(scale.items) * len(members))
        for _ in range(20 * len(members) * len(scale.items)):
            mean = sum(keyed(r, i) for r in members for i in scale.items) / (len(members) * len(scale.items))
            if abs(mean - target) <= step / 2 + 1e-9:
                break
            up = mean < target
            movable = [(r, i) for r in members for i in scale.items
                       if (keyed(r, i) < 5 if up else keyed(r, i) > 1)]
            r, i = rng.choice(movable)
            new = keyed(r, i) + (1 if up else -1)
            df.at[r, i] = 6 - new if reverse[i] else new
