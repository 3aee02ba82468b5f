"""The straightforward per-title coding path, kept only to check the matcher's vectorised one against.

This is how :meth:`Matcher.code` decided before it was vectorised: every unique title/department pair is
scored over every title x phrase cell, then decided one title at a time by building its candidates, applying
the gap factor, the department-completion rule and dominance, and keeping each role's best alias. The
title model is combined by the matcher's own ``_combine``. Nothing here is used by the package.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from trust_survey.matching.matcher import (
    _CHUNK, _TOP_K, DIAGNOSTICS, EXTRA_COLUMNS, RESULT_COLUMNS, Matcher, _as_objects, _Candidate, _contains_phrase,
    decide,
)
from trust_survey.matching.normalise import token_key
from trust_survey.matching.taxonomy import ALL_STREAMS, NONE, STREAMS
from trust_survey.common.values import is_blank


def dense_score_chunk(self, titles, contexts):
    """The matcher's containment scores computed over every title x phrase cell (as before they were sparse).

    Returns ``(score, full, context_used, vetoed)``: titles x phrases float32 scores, whether all the
    alias's words are present, whether the department completed the alias, and titles x streams that an
    exclusion term or the department vetoes (what the model may never choose, see :meth:`_combine`).
    """
    s, c = self.scoring, self.compiled
    T = self._matrix(titles)
    # Department words complete aliases, but not neutral ones ("Digital Services" is not "services").
    neutral = self.taxonomy.tables.neutral
    TC = self._matrix([tuple(dict.fromkeys(t + tuple(w for w in ctx if w not in neutral)))
                       for t, ctx in zip(titles, contexts)])
    W_T = np.array([self._title_weight(t) for t in titles], dtype=np.float32)
    W_T[W_T == 0] = 1.0
    # Key terms name a field, not a job: next to one, a word the taxonomy does not know weighs fully
    # ("Clinical Software Tester" is not safely a clinical software developer).
    n_unknown = np.array([sum(t not in c.vocab for t in toks) for toks in titles], dtype=np.float32)
    W_key = W_T + (1.0 - s.unknown_weight) * n_unknown
    hit = (TC @ c.words_by_phrase).toarray()
    in_t = (T @ c.words_by_phrase).toarray()
    aff_in = (T @ c.affinity_by_phrase).toarray()
    stream_hits = np.asarray(T @ c.word_stream_affinity)
    extra = stream_hits[:, c.phrase_stream] - aff_in
    np.maximum(extra, 0, out=extra)
    alias_cov = np.minimum(hit / c.phrase_weight, 1.0)
    W = np.where(c.phrase_is_key_term, W_key[:, None], W_T[:, None])
    title_cov = np.minimum((in_t + c.phrase_credit * extra) / W, 1.0)
    score = 100.0 * alias_cov ** s.alias_power * title_cov ** s.title_power * c.phrase_factor
    context_used = hit - in_t > 1e-6
    score = np.where(context_used, score * s.context_factor, score)
    if context_used.any():
        # The department completes what the title says; it never says it alone ("Dialysis Assistant"
        # in "Renal" is not a "renal specialist"): the title must bring a meaningful word of the alias.
        in_core = ((T @ c.meaningful_diag) @ c.words_by_phrase).toarray()
        orphan = context_used & (in_core <= 1e-6) & c.phrase_has_core[None, :]
        score[orphan] = 0.0

    present = (T.sign() @ c.words_by_exclusion).toarray() >= c.exclusion_size - 0.5
    for i, k in zip(*np.nonzero(present & (c.exclusion_size > 1))):
        present[i, k] = _contains_phrase(titles[i], c.exclusion_terms[k])
    stream_veto = np.zeros((len(titles), len(ALL_STREAMS)), dtype=bool)
    if present.any():
        role_veto = (present.astype(np.float32) @ c.exclusion_vetoes_role.astype(np.float32)) > 0
        score[role_veto[:, c.phrase_role]] = 0.0
        stream_veto = (role_veto.astype(np.float32) @ c.role_stream >= c.roles_per_stream - 0.5) & (
            c.roles_per_stream > 0)
    support, veto = self._context_effects(contexts)
    if veto.any():
        score[veto[:, c.phrase_stream]] = 0.0
    if support.any():
        bonus = support[:, c.phrase_stream] & (score > 0)
        score = np.where(bonus, score + s.context_support_bonus, score)
    np.minimum(score, 100.0, out=score)
    full = alias_cov >= 0.999
    return score.astype(np.float32), full, context_used, stream_veto | veto


def gap_factor(m: Matcher, toks: tuple[str, ...], phrase: int) -> float:
    c = m.compiled
    words = c.phrase_words[phrase]
    where = [i for i, t in enumerate(toks) if t in words]
    if len(where) < 2:
        return 1.0
    for t in toks[where[0]:where[-1] + 1]:
        if t not in words and t in c.vocab and c.word_weight[c.vocab[t]] >= 0.45:
            return m.scoring.gap_factor
    return 1.0


def alternatives(m: Matcher, cands: list[_Candidate]) -> str:
    out = []
    for cand in cands[:m.scoring.alternatives]:
        p = m.phrases[cand.phrase]
        out.append(f"{p.role_id} ({m.taxonomy.roles[p.role_id].stream}) {round(cand.score)}")
    return "; ".join(out)


def override_result(m: Matcher, entry, by_role, result):
    role = m.taxonomy.roles.get(entry.role_id) if entry.role_id else None
    alts = [cand for cand in by_role if not role or m.phrases[cand.phrase].role_id != role.id]
    result.update(role_id=role.id if role else "", role=role.name if role else "", stream=entry.stream,
                  relation=role.relation if role else ("none" if entry.stream == NONE else "adjacent"),
                  score=100, method="alias", matched_alias=entry.alias, decision="auto",
                  alternatives=alternatives(m, alts), margin=100)
    return result


def decide_rules(m: Matcher, toks, corrected, scores, full, ctx_used, fuzzy, overrides_hit):
    c = m.compiled
    tax, th = m.taxonomy, m.taxonomy.thresholds
    result = {"role_id": "", "role": "", "stream": NONE, "relation": "none", "score": 0, "method": "none",
              "matched_alias": "", "decision": "none", "alternatives": "", "margin": 0,
              "_score": 0.0, "_margin": 0.0, "_stream": NONE, "_ambiguous": False, "_best_relevant": 0.0}
    if not toks:
        return result, []
    k = min(_TOP_K, len(scores))
    idx = np.argpartition(-scores, k - 1)[:k]
    if c.role_starts is not None:
        role_max = np.maximum.reduceat(scores, c.role_starts)
        best_of_role = np.flatnonzero((scores >= role_max[c.phrase_block]) & (scores > 0))
        idx = np.union1d(idx, best_of_role)
    cands = [_Candidate(int(j), float(scores[j]) * gap_factor(m, toks, int(j)), bool(full[j]), bool(ctx_used[j]))
             for j in idx if scores[j] > 0]
    key = token_key(toks)
    if any(not cand.context_used and not c.phrase_ambiguous[cand.phrase] and c.phrases[cand.phrase].key == key
           for cand in cands):
        cands = [cand for cand in cands if not cand.context_used]
    core = c.phrase_core
    full_sets = [core[cand.phrase] for cand in cands if cand.full]
    kept = [cand for cand in cands if not any(core[cand.phrase] < fs for fs in full_sets)]
    kept.sort(key=lambda cand: (-cand.score, cand.context_used, -c.phrase_weight[cand.phrase], cand.phrase))
    by_role, seen_roles = [], set()
    for cand in kept:
        r = c.phrase_role[cand.phrase]
        if r not in seen_roles:
            seen_roles.add(r)
            by_role.append(cand)
    if by_role:
        best = by_role[0]
        best_stream = c.phrase_stream[best.phrase]
        other = [cand.score for cand in by_role[1:] if c.phrase_stream[cand.phrase] != best_stream]
        relevant = [cand.score for cand in by_role if ALL_STREAMS[c.phrase_stream[cand.phrase]] in STREAMS]
        role = tax.roles[c.phrases[best.phrase].role_id]
        result.update(_score=best.score, _margin=best.score - (max(other) if other else 0.0),
                      _stream=role.stream, _ambiguous=role.ambiguous,
                      _best_relevant=max(relevant) if relevant else 0.0)
    if overrides_hit is not None:
        return override_result(m, overrides_hit, by_role, result), by_role
    if not by_role:
        return result, by_role
    phrase = c.phrases[best.phrase]
    decision = decide(result["_score"], result["_margin"], role.stream, role.ambiguous, result["_best_relevant"], th)
    if decision == "none":
        result["score"] = int(round(best.score))
        return result, by_role
    if fuzzy[best.phrase] or corrected or best.context_used or token_key(toks) != phrase.key:
        method = "abbreviation" if phrase.kind == "abbreviation" else "fuzzy"
    else:
        method = {"name": "exact", "abbreviation": "abbreviation"}.get(phrase.kind, "alias")
    result.update(role_id=role.id, role=role.name, stream=role.stream, relation=role.relation,
                  score=int(round(best.score)), method=method, matched_alias=phrase.text,
                  decision=decision, alternatives=alternatives(m, by_role[1:]), margin=int(round(result["_margin"])))
    return result, by_role


def reference_code(m: Matcher, titles, contexts=None) -> pd.DataFrame:
    """What :meth:`Matcher.code` returns, decided one title at a time."""
    titles = _as_objects(titles)
    n = len(titles)
    contexts = pd.Series([None] * n, dtype=object) if contexts is None else _as_objects(contexts)
    tax = m.taxonomy
    t_codes, t_uniques = pd.factorize(titles.map(lambda v: None if is_blank(v) else str(v)))
    c_codes, c_uniques = pd.factorize(contexts.map(lambda v: None if is_blank(v) else str(v)))
    t_tokens = [tax.normalise(v) for v in t_uniques]
    c_tokens = [tax.normalise(v) for v in c_uniques]
    fixes = m._correct_tokens({t for toks in t_tokens + c_tokens for t in toks})
    corrected_t = [any(t in fixes for t in toks) for toks in t_tokens]
    t_tokens = [tuple(dict.fromkeys(fixes.get(t, t) for t in toks)) for toks in t_tokens]
    c_tokens = [tuple(dict.fromkeys(fixes.get(t, t) for t in toks)) for toks in c_tokens]
    t_key = np.array([token_key(t) for t in t_tokens] + [""], dtype=object)[t_codes]
    c_key = np.array([token_key(t) for t in c_tokens] + [""], dtype=object)[c_codes]
    pair_codes, pairs = pd.factorize(pd.Series(t_key, dtype=object) + "\x1f" + pd.Series(c_key, dtype=object))
    _, first_row = np.unique(pair_codes, return_index=True)
    u_titles = [t_tokens[t_codes[r]] if t_codes[r] >= 0 else () for r in first_row]
    u_ctx = [c_tokens[c_codes[r]] if c_codes[r] >= 0 else () for r in first_row]
    u_corr = [corrected_t[t_codes[r]] if t_codes[r] >= 0 else False for r in first_row]
    results, pending, vetoes = [], [], []
    for start in range(0, len(pairs), _CHUNK):
        titles_c, ctx_c = u_titles[start:start + _CHUNK], u_ctx[start:start + _CHUNK]
        score, full, ctx_used, vetoed = dense_score_chunk(m, titles_c, ctx_c)
        vetoes.extend(vetoed)
        fz = m._fuzzy(titles_c, ctx_c, score)
        for i, toks in enumerate(titles_c):
            ctx_key = m._context_key(ctx_c[i])
            hit = m.overrides.find(token_key(toks), ctx_key) if toks else None
            res, by_role = decide_rules(m, toks, u_corr[start + i], score[i], full[i], ctx_used[i], fz[i], hit)
            res["normalised_title"] = " ".join(toks)
            res["department_context"] = ctx_key
            results.append(res)
            if m.model is not None and hit is None and toks and not (
                    res["decision"] == "auto" and res["method"] in ("exact", "alias", "abbreviation")):
                pending.append((len(results) - 1, by_role, vetoed[i], start + i))
    for r, by_role, veto, k in pending:   # one title at a time
        p = m.model.predict([" ".join(u_titles[k])], [" ".join(u_ctx[k])])[0]
        results[r] = m._combine(results[r], by_role, p, veto, bool(u_ctx[k]))
    m._second_roles(results, [titles.iloc[r] for r in first_row], u_titles, vetoes)   # as the matcher does
    columns = RESULT_COLUMNS + ["margin", "normalised_title", "department_context", *DIAGNOSTICS]
    out = pd.DataFrame(results, columns=columns).iloc[pair_codes].reset_index(drop=True)
    out["taxonomy_version"] = tax.version
    out["model_version"] = m.model.version if m.model is not None else ""
    out["score"] = out["score"].astype(int)
    out["margin"] = out["margin"].astype(int)
    return out[RESULT_COLUMNS + EXTRA_COLUMNS + DIAGNOSTICS]
