"""Code job titles to a role and a stream, with a score, the alias hit, alternatives and a decision.

Every input row comes back, in order, none dropped. Work is done once per unique normalised title (and
department, when one is given), so a return that repeats "Staff Nurse" four hundred times costs one row.

How a title meets the taxonomy (``role_taxonomy.yaml``):

1. **Normalise** (:mod:`.normalise`), then fix misspelt words: each word the taxonomy does not know, of
   ``typo_min_length`` letters or more, is compared with every known word in one vectorised
   ``rapidfuzz.process.cdist`` call and replaced by the closest one scoring ``typo_cutoff`` or more with the
   same first letter. Short words and acronyms are never changed, so "Physio" never becomes "physics"
   and "CSC" or "HI" never become anything.
2. **Exact, alias and abbreviation**: a title whose words are exactly a role's name, alias, key term or
   whole-word abbreviation scores 100. Reviewed aliases (``role_overrides.yaml``) are applied last and win,
   each only in the department context it was decided in (:meth:`Matcher.department_contexts`; an alias
   decided for ``any`` department applies everywhere a context-specific one does not).
3. **Scored containment** for everything else, as sparse matrix products over all unique titles at once.
   Words carry weights (rare in the taxonomy -> heavy; seniority and places are already gone; "lead",
   "team" and unknown words are light). For title T, department D and alias A:

   - ``alias_cov = weight(A in T or D) / weight(A)``: the **guard against the subset trap**. "Scientist" is
     only a third of "Clinical Scientist (Genomics)", so it scores about 11, where ``token_set_ratio`` gives
     100. The score falls with the square of what is missing (``alias_power``).
   - ``title_cov = (weight(T in A) + stream_credit * weight(other words of T typical of A's stream)) /
     weight(T)``: how much of the title the alias explains. "Clinical Scientist (Bioinformatics) -
     Genomics" is fully explained by a genomics alias plus a genomics word.
   - ``score = 100 * alias_cov ** alias_power * title_cov ** title_power``; key terms score a little less
     (``key_term_factor``), aliases completed by the department a little less (``context_factor``).
   - Exclusion terms veto a role ("Genomics Nurse" is never a genomics scientist); department contexts
     veto a stream or add ``context_support_bonus`` to one. The department only completes what the title
     says: an alias none of whose meaningful words is in the title scores nothing ("Dialysis Assistant" in
     "Renal" is not a "renal specialist").
4. **Fuzzy string** similarity for near-misses the word level cannot see ("bioinformaticsscientist"):
   ``process.cdist`` with ``fuzz.ratio`` on the sorted words of the unique titles still below
   ``fuzzy_cap``, accepted from ``fuzzy_min`` and capped at ``fuzzy_cap`` so it alone never decides
   automatically at the default thresholds. Symmetric ratios cannot fall into the subset trap
   ("scientist" vs "clinical genomics scientist" is 50).
5. **Decide**: every role puts its best alias forward (so a role with many aliases cannot crowd another
   stream out of the margin). A title that is exactly a role's alias is not overruled by aliases the
   department completes ("Chief Information Officer" in Digital). A candidate whose alias words are a
   strict subset of a fully matched candidate's alias is
   dominated ("Software Engineer" by "Software Engineer, Medical Physics") and is no alternative. The
   best remaining candidate is coded ``auto`` when its score reaches ``auto_score`` and its margin over the
   best candidate of a *different stream* reaches ``auto_margin``; ``none`` when nothing reaches
   ``review_score``; otherwise ``review``. Ambiguous roles always go to review. A confident-enough match
   to a stream-none role is automatic when no stream role reaches ``none_when_relevant_below``.
"""
from __future__ import annotations

import hashlib
import logging
import weakref
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process
from scipy import sparse

from trust_survey.matching.compiled import CompiledTaxonomy, compile_taxonomy
from trust_survey.matching.decision import OVERRULE, model_decision
from trust_survey.matching.normalise import title_parts, token_key
from trust_survey.matching.overrides import OTHER, Overrides, load_overrides
from trust_survey.matching.taxonomy import ALL_STREAMS, NONE, STREAMS, Taxonomy, load_taxonomy
from trust_survey.common.values import is_blank

log = logging.getLogger(__name__)

#: The contract columns added to every coded row, in order.
RESULT_COLUMNS = ["role_id", "role", "stream", "relation", "score", "method", "matched_alias", "decision",
                  "alternatives"]
#: Further columns for audit and review: the normalised title, the margin, the taxonomy version and the
#: department context (the taxonomy's department context ids the department matched, joined by "+";
#: "other" when it matched none; blank without a department), which reviewed aliases are keyed on, and the
#: title model's version (blank when coded by the rules alone).
EXTRA_COLUMNS = ["normalised_title", "margin", "taxonomy_version", "department_context", "model_version"]
DIAGNOSTICS = ["_score", "_margin", "_stream", "_ambiguous", "_best_relevant"]
METHODS = ("exact", "alias", "abbreviation", "fuzzy", "none")   # and "model:<version>" (see _combine)
DECISIONS = ("auto", "review", "none")
_CHUNK = 512
_TOP_K = 16
_MODEL_BATCH = 4096
_RELEVANT = np.array([st in STREAMS for st in ALL_STREAMS])
_EXPLICIT = ("exact", "alias", "abbreviation")


@dataclass
class _Candidate:
    phrase: int
    score: float
    full: bool
    context_used: bool


class _Ranked(Sequence):
    """One title's ranked candidates as :class:`_Candidate`, made only when looked at (most never are)."""

    __slots__ = ("_columns", "_start", "_stop")

    def __init__(self, columns: tuple[list, list, list, list], start: int, stop: int):
        self._columns, self._start, self._stop = columns, start, stop

    def __len__(self) -> int:
        return self._stop - self._start

    def __getitem__(self, k):
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(len(self)))]
        if k < 0:
            k += len(self)
        if not 0 <= k < len(self):
            raise IndexError(k)
        phrase, score, full, used = (col[self._start + k] for col in self._columns)
        return _Candidate(phrase, score, full, used)


class Matcher:
    """A taxonomy (plus reviewed aliases) compiled into matrices (:class:`.compiled.CompiledTaxonomy`);
    call :meth:`code` on titles."""

    def __init__(self, taxonomy: Taxonomy, overrides: Overrides | None = None, model=None):
        self.taxonomy = taxonomy
        self.overrides = overrides or Overrides.empty()
        self.model = model
        self.scoring = taxonomy.scoring
        self.compiled: CompiledTaxonomy = compile_taxonomy(taxonomy)
        self._context_keys: dict[tuple[str, ...], str] = {}
        # read by _combine and by callers that explain a coding
        c = self.compiled
        self.phrases, self.phrase_stream, self.phrase_ambiguous = c.phrases, c.phrase_stream, c.phrase_ambiguous
        self.stream_index = c.stream_index
        # read by _second_roles: the key terms (a field's name, not a role) and the words any stream speaks for
        self._key_terms = {p.key for p in self.phrases if p.kind == "key_term"}
        self._relevant_words = {t for t, j in c.vocab.items() if c.word_stream_affinity[j, :len(STREAMS)].any()}

    # ------------------------------------------------------------------ words
    def _correct_tokens(self, tokens: Iterable[str]) -> dict[str, str]:
        """Unknown word -> known word, for plural forms and misspellings (one cdist over unique words)."""
        s, c = self.scoring, self.compiled
        unknown = sorted({t for t in tokens if t not in c.vocab})
        fixes: dict[str, str] = {}
        rest = []
        for t in unknown:
            if len(t) > 3 and t.endswith("s") and t[:-1] in c.vocab:
                fixes[t] = t[:-1]
            elif len(t) >= s.typo_min_length and not t.isdigit():
                rest.append(t)
        if rest:
            scores = process.cdist(rest, c.words, scorer=fuzz.ratio, score_cutoff=s.typo_cutoff,
                                   dtype=np.uint8, workers=-1)
            for i, t in enumerate(rest):
                row = scores[i]
                best = int(row.argmax())
                if row[best] >= s.typo_cutoff and c.words[best][0] == t[0]:
                    fixes[t] = c.words[best]
        # Compounds keep their known head: pharmacogenomics -> genomics, neuroradiologist -> radiologist.
        for t in rest:
            if t not in fixes and len(t) >= 9:
                heads = [v for v in c.long_words if t.endswith(v) and len(t) - len(v) >= 3]
                if heads:
                    fixes[t] = max(heads, key=len)
        return fixes

    def _matrix(self, token_lists: Sequence[tuple[str, ...]]) -> sparse.csr_matrix:
        vocab = self.compiled.vocab
        rows, cols = [], []
        for i, toks in enumerate(token_lists):
            for t in toks:
                j = vocab.get(t)
                if j is not None:
                    rows.append(i)
                    cols.append(j)
        data = self.compiled.word_weight[cols] if cols else np.zeros(0, dtype=np.float32)
        return sparse.csr_matrix((data, (rows, cols)), shape=(len(token_lists), len(vocab)))

    def _title_weight(self, toks: tuple[str, ...]) -> float:
        w, c = self.scoring.unknown_weight, self.compiled
        return float(sum(c.word_weight[c.vocab[t]] if t in c.vocab else w for t in toks))

    # ------------------------------------------------------------------ department context
    def _context_ids(self, ctx: tuple[str, ...]) -> tuple[str, ...]:
        """The ids of the taxonomy's department contexts whose terms the department's words hold."""
        present = set(ctx)
        return tuple(dc.id for dc in self.taxonomy.contexts if any(set(term) <= present for term in dc.terms))

    def _context_key(self, ctx: tuple[str, ...]) -> str:
        if not ctx:
            return ""
        key = self._context_keys.get(ctx)
        if key is None:
            key = self._context_keys[ctx] = "+".join(sorted(self._context_ids(ctx))) or OTHER
        return key

    def department_contexts(self, contexts: Sequence | pd.Series) -> list[str]:
        """The department context of each department name, as reviewed aliases record it: the matched
        department context ids joined by "+", "other" when none matched, "" for a blank department."""
        contexts = _as_objects(contexts)
        codes, uniques = pd.factorize(contexts.map(lambda v: None if is_blank(v) else str(v)))
        tokens = [self.taxonomy.normalise(v) for v in uniques]
        fixes = self._correct_tokens({t for toks in tokens for t in toks})
        keys = [self._context_key(tuple(dict.fromkeys(fixes.get(t, t) for t in toks))) for toks in tokens]
        return [keys[c] if c >= 0 else "" for c in codes]

    # ------------------------------------------------------------------ scoring
    def _context_effects(self, contexts: Sequence[tuple[str, ...]]) -> tuple[np.ndarray, np.ndarray]:
        n, S = len(contexts), len(ALL_STREAMS)
        support = np.zeros((n, S), dtype=bool)
        veto = np.zeros((n, S), dtype=bool)
        cache: dict[tuple[str, ...], tuple[set, set]] = {}
        by_id = {dc.id: dc for dc in self.taxonomy.contexts}
        for i, ctx in enumerate(contexts):
            if not ctx:
                continue
            if ctx not in cache:
                sup, vet = set(), set()
                for cid in self._context_ids(ctx):
                    sup.update(by_id[cid].supports)
                    vet.update(by_id[cid].vetoes)
                cache[ctx] = (sup - vet, vet)
            sup, vet = cache[ctx]
            for st in sup:
                support[i, self.stream_index[st]] = True
            for st in vet:
                veto[i, self.stream_index[st]] = True
        return support, veto

    def _score_chunk(self, titles: Sequence[tuple[str, ...]], contexts: Sequence[tuple[str, ...]]):
        """Containment scores of every title (with its department) against every phrase.

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
        # Only pairs that share a word can score: work on the title x phrase pairs of hit's structure.
        H = (TC @ c.words_by_phrase).tocsr()
        H.sum_duplicates()
        n, P = len(titles), len(c.phrases)
        rows = np.repeat(np.arange(n), np.diff(H.indptr))
        cols = H.indices.astype(np.int64)
        at = rows * P + cols
        hit = H.data
        in_t = _gather(T @ c.words_by_phrase, at, P)
        aff_in = _gather(T @ c.affinity_by_phrase, at, P)
        stream_hits = np.asarray(T @ c.word_stream_affinity)
        stream = c.phrase_stream[cols]
        extra = stream_hits[rows, stream] - aff_in
        np.maximum(extra, 0, out=extra)
        alias_cov = np.minimum(hit / c.phrase_weight[cols], 1.0)
        W = np.where(c.phrase_is_key_term[cols], W_key[rows], W_T[rows])
        title_cov = np.minimum((in_t + c.phrase_credit[cols] * extra) / W, 1.0)
        score = 100.0 * alias_cov ** s.alias_power * title_cov ** s.title_power * c.phrase_factor[cols]
        context_used = hit - in_t > 1e-6
        score = np.where(context_used, score * s.context_factor, score)
        if context_used.any():
            # The department completes what the title says; it never says it alone ("Dialysis Assistant"
            # in "Renal" is not a "renal specialist"): the title must bring a meaningful word of the alias.
            in_core = _gather((T @ c.meaningful_diag) @ c.words_by_phrase, at, P)
            orphan = context_used & (in_core <= 1e-6) & c.phrase_has_core[cols]
            score[orphan] = 0.0

        present = (T.sign() @ c.words_by_exclusion).toarray() >= c.exclusion_size - 0.5
        for i, k in zip(*np.nonzero(present & (c.exclusion_size > 1))):
            present[i, k] = _contains_phrase(titles[i], c.exclusion_terms[k])
        stream_veto = np.zeros((len(titles), len(ALL_STREAMS)), dtype=bool)
        if present.any():
            role_veto = (present.astype(np.float32) @ c.exclusion_vetoes_role.astype(np.float32)) > 0
            score[role_veto[rows, c.phrase_role[cols]]] = 0.0
            stream_veto = (role_veto.astype(np.float32) @ c.role_stream >= c.roles_per_stream - 0.5) & (
                c.roles_per_stream > 0)
        support, veto = self._context_effects(contexts)
        if veto.any():
            score[veto[rows, stream]] = 0.0
        if support.any():
            bonus = support[rows, stream] & (score > 0)
            score = np.where(bonus, score + s.context_support_bonus, score)
        np.minimum(score, 100.0, out=score)
        dense_score = np.zeros((n, P), dtype=np.float32)
        dense_score[rows, cols] = score
        full = np.zeros((n, P), dtype=bool)
        full[rows, cols] = alias_cov >= 0.999
        used = np.zeros((n, P), dtype=bool)
        used[rows, cols] = context_used
        return dense_score, full, used, stream_veto | veto

    def _fuzzy(self, titles: Sequence[tuple[str, ...]], contexts: Sequence[tuple[str, ...]],
               score: np.ndarray) -> np.ndarray:
        """Whole-title near-misses, for titles whose best containment score is below the fuzzy cap and that
        are not exactly a phrase (without a department): raises ``score`` in place where a phrase is near,
        and returns where it did."""
        s, c = self.scoring, self.compiled
        keys = [" ".join(sorted(t)) for t in titles]
        rows = [i for i, k in enumerate(keys)
                if k and not (k in c.exact and not contexts[i]) and score[i].max() < s.fuzzy_cap]
        fz = np.zeros_like(score, dtype=bool)
        if not rows:
            return fz
        sim = process.cdist([keys[i] for i in rows], c.phrase_sorted, scorer=fuzz.ratio,
                            score_cutoff=s.fuzzy_min, dtype=np.uint8, workers=-1)
        for r, i in enumerate(rows):
            known = {t for t in titles[i] if t in c.vocab}
            for j in np.nonzero(sim[r])[0]:
                # only words the taxonomy does not know may be near-misses: "dental" is not "renal"
                cand = min(float(sim[r, j]), s.fuzzy_cap)
                if cand > score[i, j] and known <= c.phrase_words[j]:
                    score[i, j] = cand
                    fz[i, j] = True
        return fz

    # ------------------------------------------------------------------ deciding
    def _ranked(self, titles: Sequence[tuple[str, ...]], score: np.ndarray, full: np.ndarray,
                context_used: np.ndarray):
        """Every title's candidates, each role's best once, best first: for the whole chunk at once.

        A title's candidates are its ``_TOP_K`` best phrases and every role's best (so a role with many
        aliases cannot crowd another stream out of the margin), scored above 0 and lowered by the gap
        factor where a heavy word sits between the alias's words. The department completes a title that is
        not itself a role's alias ("Software Engineer" in Medical Physics); it never competes with one that
        is ("Chief Information Officer" in Digital is not a chief *digital* information officer). A
        candidate whose meaningful words are a strict subset of a fully present candidate's is dominated
        ("software engineer" by "medical physics software engineer"). Ranking: score, then aliases the title
        holds alone, then the heavier alias, then taxonomy order.

        Returns ``(row, phrase, score, context_used, full)`` arrays sorted by title then rank, one entry per
        (title, role).
        """
        c = self.compiled
        n, P = score.shape
        empty = np.array([not t for t in titles], dtype=bool)
        k = min(_TOP_K, P)
        cand = np.zeros((n, P), dtype=bool)
        np.put_along_axis(cand, np.argpartition(-score, k - 1, axis=1)[:, :k], True, axis=1)
        if c.role_starts is not None:
            role_max = np.maximum.reduceat(score, c.role_starts, axis=1)
            cand |= score >= role_max[:, c.phrase_block]
        cand &= score > 0
        cand[empty] = False
        r, j = np.nonzero(cand)
        sc = score[r, j].astype(np.float64) * self._gap_factors(titles, r, j)
        ctx = context_used[r, j]
        # a phrase that is the whole title, completed by nothing, sends department-completed ones away
        t_key = np.array([c.key_ids.get(token_key(t), -1) for t in titles], dtype=np.int64)
        alone = ~ctx & ~c.phrase_ambiguous[j] & (c.phrase_key_id[j] == t_key[r])
        keep = ~(np.isin(r, r[alone]) & ctx)
        r, j, sc, ctx, fl = r[keep], j[keep], sc[keep], ctx[keep], full[r[keep], j[keep]]
        keep = ~self._dominated(r, j, fl, n)
        r, j, sc, ctx = r[keep], j[keep], sc[keep], ctx[keep]
        order = np.lexsort((j, -c.phrase_weight[j], ctx, -sc, r))
        r, j, sc, ctx = r[order], j[order], sc[order], ctx[order]
        _, first = np.unique(r * len(c.role_ids) + c.phrase_role[j], return_index=True)
        first.sort()
        r, j = r[first], j[first]
        return r, j, sc[first], ctx[first], full[r, j]

    def _gap_factors(self, titles: Sequence[tuple[str, ...]], r: np.ndarray, j: np.ndarray) -> np.ndarray:
        """``gap_factor`` for each (title r, phrase j) where a heavy title word that is not the alias's sits
        between the alias's words ("Clinical Safety Officer, Digital Health" is not a "health safety
        officer"), else 1."""
        c = self.compiled
        out = np.ones(len(r))
        if not len(r):
            return out
        width = max(len(t) for t in titles) + 1
        V = len(c.vocab)
        where = np.zeros((len(titles), V + 1), dtype=np.int16)       # position + 1 of each known word
        heavy = np.zeros((len(titles), width), dtype=np.int16)       # heavy known words up to each position
        for i, toks in enumerate(titles):
            cols = [c.vocab.get(t, -1) for t in toks]
            for p, col in enumerate(cols):
                if col >= 0:
                    where[i, col] = p + 1
            heavy[i, 1:len(cols) + 1] = np.cumsum([col >= 0 and c.word_heavy[col] for col in cols])
        cols = c.phrase_word_cols[j]
        pos = where[r[:, None], cols].astype(np.int64)
        present = pos > 0
        n_present = present.sum(axis=1)
        first = np.where(present, pos, width).min(axis=1)
        last = pos.max(axis=1)
        heavy_alias = (present & np.r_[c.word_heavy, False][cols]).sum(axis=1)
        multi = n_present >= 2
        between = np.zeros(len(r), dtype=np.int64)
        between[multi] = heavy[r[multi], last[multi]] - heavy[r[multi], first[multi] - 1]
        out[multi & (between > heavy_alias)] = self.scoring.gap_factor
        return out

    def _dominated(self, r: np.ndarray, j: np.ndarray, full: np.ndarray, n: int) -> np.ndarray:
        """Whether each candidate (title r, phrase j; sorted by r) is dominated by a fully present one."""
        c = self.compiled
        out = np.zeros(len(r), dtype=bool)
        if not full.any() or not len(c.dominates):
            return out
        starts = np.searchsorted(r, np.arange(n + 1))
        f = np.flatnonzero(full)
        lo, hi = starts[r[f]], starts[r[f] + 1]
        counts = hi - lo
        f_rep = np.repeat(f, counts)
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        other = np.repeat(lo, counts) + offsets
        keys = j[f_rep] * len(c.phrases) + j[other]
        at = np.minimum(np.searchsorted(c.dominates, keys), len(c.dominates) - 1)
        out[other[c.dominates[at] == keys]] = True
        return out

    def _decide_chunk(self, titles: Sequence[tuple[str, ...]], corrected: Sequence[bool], score: np.ndarray,
                      full: np.ndarray, context_used: np.ndarray, fuzzy: np.ndarray, hits: Sequence):
        """The rules' coding of each title of a chunk: ``(results, candidates)`` where ``candidates(i)``
        gives title i's ranked candidates (each role's best, best first) as :class:`_Candidate`."""
        c, tax, th = self.compiled, self.taxonomy, self.taxonomy.thresholds
        n = len(titles)
        r, j, sc, ctx, fl = self._ranked(titles, score, full, context_used)
        bounds = np.searchsorted(r, np.arange(n + 1))
        head = bounds[:-1]
        has = head < bounds[1:]
        stream = c.phrase_stream[j]
        # the best of another stream, and the best relevant one: the first such after each title's best
        not_head = np.ones(len(r), dtype=bool)
        not_head[head[has]] = False
        best_stream = np.full(n, -1)
        best_stream[has] = stream[head[has]]
        other = _first_per_row(r, sc, not_head & (stream != best_stream[r]), n)
        relevant = _first_per_row(r, sc, _RELEVANT[stream], n)
        ranked = (j.tolist(), sc.tolist(), fl.tolist(), ctx.tolist())
        j_l, sc_l, _, ctx_l = ranked
        bounds_l = bounds.tolist()
        roles, phrases, n_alt = tax.roles, c.phrases, self.scoring.alternatives
        label = [f"{p.role_id} ({roles[p.role_id].stream})" for p in phrases]

        def candidates(i: int) -> _Ranked:
            return _Ranked(ranked, bounds_l[i], bounds_l[i + 1])

        results = []
        for i, toks in enumerate(titles):
            result = {"role_id": "", "role": "", "stream": NONE, "relation": "none", "score": 0, "method": "none",
                      "matched_alias": "", "decision": "none", "alternatives": "", "margin": 0,
                      "_score": 0.0, "_margin": 0.0, "_stream": NONE, "_ambiguous": False, "_best_relevant": 0.0}
            results.append(result)
            a, b = bounds_l[i], bounds_l[i + 1]
            if a < b:
                best, best_score = j_l[a], sc_l[a]
                role = roles[phrases[best].role_id]
                result.update(_score=best_score, _margin=best_score - other[i], _stream=role.stream,
                              _ambiguous=role.ambiguous, _best_relevant=relevant[i])
            if hits[i] is not None:
                self._override_result(hits[i], candidates(i), result)
                continue
            if a == b:
                continue
            phrase = phrases[best]
            decision = decide(best_score, result["_margin"], role.stream, role.ambiguous, relevant[i], th)
            if decision == "none":
                result["score"] = int(round(best_score))
                continue
            if fuzzy[i, best] or corrected[i] or ctx_l[a] or token_key(toks) != phrase.key:
                method = "abbreviation" if phrase.kind == "abbreviation" else "fuzzy"
            else:
                method = {"name": "exact", "abbreviation": "abbreviation"}.get(phrase.kind, "alias")
            alternatives = "; ".join(f"{label[j_l[x]]} {round(sc_l[x])}" for x in range(a + 1, min(b, a + 1 + n_alt)))
            result.update(role_id=role.id, role=role.name, stream=role.stream, relation=role.relation,
                          score=int(round(best_score)), method=method, matched_alias=phrase.text,
                          decision=decision, alternatives=alternatives, margin=int(round(result["_margin"])))
        return results, candidates

    def _combine(self, result: dict, by_role: list[_Candidate], proba: np.ndarray, vetoed: np.ndarray,
                 has_department: bool) -> dict:
        """The rules' coding where it is explicit, else the rules and the model together (see :mod:`.model`).

        Explicit: an exact, alias or abbreviation match coded automatically. The model never chooses a stream
        an exclusion term or the department vetoes. A title that is only a role of unstated specialism
        ("Clinical Scientist") is coded none without a department; with one, the department decides: the
        rules' department-completed coding stands when automatic, else it goes to review. Otherwise two
        opinions are weighed, and doubt goes to a person, never to a guess:

        - the rules coded a scored match automatically: it stands unless the model is sure of another
          stream, which sends the title to review;
        - the rules were unsure (review): the model's calibrated decision where it agrees with the rules'
          suggestion; where it does not, where the rules' best names no specialism, or where
          a relevant role matched well but not clearly enough, review with the rules' suggestion;
        - the rules found nothing: none, unless the model finds a stream likely enough to be worth a look
          (review, from the calibrated ``rescue`` probability), or is sure of it (auto at the overrule
          probability).
        """
        if result["decision"] == "auto" and result["method"] in ("exact", "alias", "abbreviation"):
            return result
        p = np.where(vetoed, 0.0, proba).astype(np.float64)
        if p.sum() <= 0:
            return result
        p /= p.sum()
        order = np.argsort(-p, kind="stable")
        top = ALL_STREAMS[order[0]]
        th = self.model.thresholds
        overrule = th.get("overrule", OVERRULE)
        # a title whose best role names no specialism: exactly that role's words, or near them with a department
        # to decide ("Healthcare Scientist Specialist" in Research and Development)
        generic = result["_ambiguous"] and (result["method"] in ("exact", "alias", "abbreviation") or has_department)
        # the stream the rules point at: their best candidate's, when it scored enough to be considered
        suggested = result["_stream"] if result["decision"] != "none" and not result["_ambiguous"] else NONE
        if generic:
            if has_department and result["decision"] == "auto":
                return result
            decision = "review" if has_department else "none"
            if not has_department:
                top, order = NONE, np.r_[self.stream_index[NONE], [i for i in order if ALL_STREAMS[i] != NONE]]
        elif result["decision"] == "auto":
            # the rules' scored match stands where the model agrees, where the department completed it, where
            # the model is unsure, and always when the model has never been checked on real titles
            if (result["stream"] == top or by_role[0].context_used or p[order[0]] < th["auto"]
                    or overrule > 1):
                return result
            decision = "review"   # two opinions disagree and the model is sure: a person decides
        else:
            decision = model_decision(p, th)
            if result["decision"] == "review" and top == suggested and top != NONE:
                # two opinions agree: the model's confirmation threshold, calibrated on such titles
                decision = "auto" if p[order[0]] >= th.get("confirm", th["auto"]) else "review"
            elif result["decision"] == "review" and (top != suggested or (
                    top == NONE and result["_best_relevant"] >= self.taxonomy.thresholds.auto_score)):
                # the model disagrees with the rules' suggestion (or the rules' best names no specialism):
                # a person decides, shown the rules' suggestion
                return result
            if result["decision"] == "none" and top != NONE:
                if p[order[0]] < th.get("rescue", 0.0):
                    return result   # a lukewarm model does not make a title the rules found nothing in doubtful
                if decision == "auto" and p[order[0]] < overrule:
                    # nor is a stream coded alone where the rules found nothing relevant ("Medical Student")
                    decision = "review"
        role = None
        if top != NONE or decision != "none":
            role = next((self.taxonomy.roles[self.phrases[c.phrase].role_id] for c in by_role
                         if ALL_STREAMS[self.phrase_stream[c.phrase]] == top and not self.phrase_ambiguous[c.phrase]
                         and c.score >= self.taxonomy.thresholds.review_score), None)
        alts = "; ".join(f"{ALL_STREAMS[i]} {p[i]:.2f}" for i in order[1:1 + self.scoring.alternatives]
                         if p[i] >= 0.005)
        result.update(role_id=role.id if role else "", role=role.name if role else "", stream=top,
                      relation=role.relation if role else ("none" if top == NONE else "adjacent"),
                      score=int(round(100 * p[self.stream_index[top]])), method=self.model.method,
                      matched_alias="", decision=decision, alternatives=alts,
                      margin=int(round(100 * (p[order[0]] - p[order[1]]))) if len(order) > 1 else 100)
        return result

    def _alternatives(self, cands: list[_Candidate]) -> str:
        out = []
        for c in cands[:self.scoring.alternatives]:
            p = self.phrases[c.phrase]
            out.append(f"{p.role_id} ({self.taxonomy.roles[p.role_id].stream}) {round(c.score)}")
        return "; ".join(out)

    def _override_result(self, entry, by_role: list[_Candidate], result: dict) -> dict:
        role = self.taxonomy.roles.get(entry.role_id) if entry.role_id else None
        alts = [c for c in by_role if not role or self.phrases[c.phrase].role_id != role.id]
        result.update(role_id=role.id if role else "", role=role.name if role else "", stream=entry.stream,
                      relation=role.relation if role else ("none" if entry.stream == NONE else "adjacent"),
                      score=100, method="alias", matched_alias=entry.alias, decision="auto",
                      alternatives=self._alternatives(alts), margin=100)
        return result

    # ------------------------------------------------------------------ public
    def explain(self, title: str, context: str | None = None, top: int = 10) -> pd.DataFrame:
        """The best-scoring aliases for one title (before dominance and decision), for debugging a coding:
        phrase, kind, role_id, stream, score, alias_full (all alias words present)."""
        toks = self.taxonomy.normalise(title)
        ctx = self.taxonomy.normalise(context) if context else ()
        fixes = self._correct_tokens(set(toks) | set(ctx))
        toks = tuple(dict.fromkeys(fixes.get(t, t) for t in toks))
        ctx = tuple(dict.fromkeys(fixes.get(t, t) for t in ctx))
        score, full, _, _ = self._score_chunk([toks], [ctx])
        order = np.argsort(-score[0], kind="stable")[:top]
        order = order[score[0, order] > 0]
        gap = self._gap_factors([toks], np.zeros(len(order), dtype=np.int64), order)
        rows = []
        for j, g in zip(order, gap):
            p = self.phrases[j]
            rows.append({"phrase": p.text, "kind": p.kind, "role_id": p.role_id,
                         "stream": self.taxonomy.roles[p.role_id].stream,
                         "score": round(float(score[0, j]) * float(g), 1), "alias_full": bool(full[0, j])})
        return pd.DataFrame(rows, columns=["phrase", "kind", "role_id", "stream", "score", "alias_full"])

    def _second_roles(self, results: list[dict], raw_titles: list, tokens: list[tuple[str, ...]],
                      vetoes: np.ndarray) -> None:
        """A title coded none (or sent to review) that joins a second role named explicitly ("Consultant
        Surgeon & CCIO", "Clinical Perfusionist, Clinical Lead for Digital Research") takes that role's
        stream: the policy labels a person by every discipline they hold. Only an exact, alias or
        abbreviation match of the part, coded automatically, to one stream the whole title's exclusion terms
        and department do not veto (and the stream the rules suggested for a title they sent to review, if
        any); never over a title that is itself a role's alias or a reviewed alias."""
        todo: dict[int, list[str]] = {}
        for k, res in enumerate(results):
            explicit = res["method"] in ("exact", "alias", "abbreviation") and res["score"] >= 100
            if (res["stream"] != NONE and res["decision"] != "review") or explicit:
                continue
            if not self._relevant_words.intersection(tokens[k]):
                continue   # no word of any stream's roles: no part can name one
            parts = title_parts(raw_titles[k])
            if len(parts) > 1:
                todo[k] = parts
        if not todo:
            return
        coded = self.code([p for parts in todo.values() for p in parts], _parts=True)
        streams = coded["stream"].to_numpy(dtype=object)
        ok = ((coded["decision"] == "auto") & coded["method"].isin(["exact", "alias", "abbreviation"])
              & coded["stream"].isin(STREAMS)).to_numpy()
        at = 0
        for k, parts in todo.items():
            rows = [at + j for j in range(len(parts)) if ok[at + j]]
            at += len(parts)
            # a part that is only a field's name ("- Clinical Informatics", "- Genomics") names a team, not a role
            rows = [r for r in rows if not vetoes[k][self.stream_index[streams[r]]]
                    and token_key(self.taxonomy.normalise(coded.at[r, "matched_alias"])) not in self._key_terms]
            found = {streams[r] for r in rows}
            res = results[k]
            if len(found) != 1 or res["stream"] not in (NONE, *found):
                continue
            hit = coded.iloc[rows[0]]
            was = f"{res['role_id']} (none) {res['score']}" if res["role_id"] else ""
            res.update(role_id=hit["role_id"], role=hit["role"], stream=hit["stream"], relation=hit["relation"],
                       score=int(hit["score"]), method=hit["method"], matched_alias=hit["matched_alias"],
                       decision="auto", alternatives="; ".join(a for a in (was, res["alternatives"]) if a),
                       margin=int(hit["margin"]))

    def code(self, titles: Sequence | pd.Series, contexts: Sequence | pd.Series | None = None, *,
             diagnostics: bool = False, on_progress: Callable[[int], None] | None = None,
             _parts: bool = False) -> pd.DataFrame:
        """One result row per input title, in input order: :data:`RESULT_COLUMNS` + :data:`EXTRA_COLUMNS`.

        Each distinct (normalised title, department) pair is coded once. With ``diagnostics`` the unrounded
        values behind the decision are added (``_score``, ``_margin``, ``_stream``, ``_ambiguous``,
        ``_best_relevant``) so thresholds can be calibrated without re-scoring. ``on_progress(n)`` is told
        each time the coding of ``n`` more input rows is known (in all, the number of titles). ``_parts``
        (internal) codes the parts of titles for :meth:`_second_roles`, which is then not applied again.
        """
        per_pair, pair_codes = self.code_pairs(titles, contexts, on_progress=on_progress, _parts=_parts)
        return self.expand(per_pair, pair_codes, diagnostics=diagnostics)

    def expand(self, per_pair: pd.DataFrame, pair_codes: np.ndarray, *, diagnostics: bool = False) -> pd.DataFrame:
        """The result rows for ``pair_codes`` (a slice of :meth:`code_pairs`' codes), one per input row."""
        out = per_pair.iloc[pair_codes].reset_index(drop=True)
        out["taxonomy_version"] = self.taxonomy.version
        out["model_version"] = self.model.version if self.model is not None else ""
        return out[RESULT_COLUMNS + EXTRA_COLUMNS + (DIAGNOSTICS if diagnostics else [])]

    def code_pairs(self, titles: Sequence | pd.Series, contexts: Sequence | pd.Series | None = None, *,
                   on_progress: Callable[[int], None] | None = None,
                   _parts: bool = False) -> tuple[pd.DataFrame, np.ndarray]:
        """``(per_pair, pair_codes)``: one coded row per distinct (normalised title, department) pair, and
        for each input row the position of its pair; :meth:`expand` turns them into result rows."""
        titles = _as_objects(titles)
        n = len(titles)
        if contexts is None:
            contexts = pd.Series([None] * n, dtype=object)
        else:
            contexts = _as_objects(contexts)
            if len(contexts) != n:
                raise ValueError(f"{len(contexts)} contexts for {n} titles")
        tax = self.taxonomy
        t_codes, t_uniques = pd.factorize(titles.map(lambda v: None if is_blank(v) else str(v)))
        c_codes, c_uniques = pd.factorize(contexts.map(lambda v: None if is_blank(v) else str(v)))
        t_tokens = [tax.normalise(v) for v in t_uniques]
        c_tokens = [tax.normalise(v) for v in c_uniques]
        fixes = self._correct_tokens({t for toks in t_tokens + c_tokens for t in toks})
        corrected_t = [any(t in fixes for t in toks) for toks in t_tokens]
        if fixes:
            t_tokens = [tuple(dict.fromkeys(fixes.get(t, t) for t in toks)) for toks in t_tokens]
            c_tokens = [tuple(dict.fromkeys(fixes.get(t, t) for t in toks)) for toks in c_tokens]

        # Unique (title words, department words) pairs: the unit of work.
        # (the same words give the same key, so two spellings of a title are one pair)
        t_key, _ = pd.factorize(np.array([token_key(t) for t in t_tokens] + [""], dtype=object))
        c_key, c_n = pd.factorize(np.array([token_key(t) for t in c_tokens] + [""], dtype=object))
        pair_codes, pairs = pd.factorize(t_key[t_codes].astype(np.int64) * len(c_n) + c_key[c_codes])
        _, first_row = np.unique(pair_codes, return_index=True)
        u_titles = [t_tokens[t_codes[r]] if t_codes[r] >= 0 else () for r in first_row]
        u_ctx = [c_tokens[c_codes[r]] if c_codes[r] >= 0 else () for r in first_row]
        u_corr = [corrected_t[t_codes[r]] if t_codes[r] >= 0 else False for r in first_row]
        log.debug("coding %d titles: %d unique title/department pairs, %d corrected words", n, len(pairs),
                  len(fixes))
        rows_done = np.r_[0, np.cumsum(np.bincount(pair_codes, minlength=len(pairs)))]
        done = [0]

        def pairs_coded(k: int) -> None:   # pairs are numbered as they first occur: k more pairs, so many rows
            if on_progress is not None:
                on_progress(int(rows_done[done[0] + k] - rows_done[done[0]]))
            done[0] += k

        raw = None if _parts else [titles.iloc[r] for r in first_row]
        return self._code_pairs(u_titles, u_ctx, u_corr, pairs_coded, raw), pair_codes

    def _code_pairs(self, u_titles: list[tuple[str, ...]], u_ctx: list[tuple[str, ...]], u_corr: list[bool],
                    on_progress: Callable[[int], None] | None, raw_titles: list | None = None) -> pd.DataFrame:
        """One coded row per distinct (title words, department words) pair, in the order given; with
        ``raw_titles`` (each pair's title as written) a second role named in a title is looked for too."""
        results: list[dict] = []
        veto_chunks: list[np.ndarray] = []   # pairs x streams that exclusion terms or the department veto
        for block in range(0, len(u_titles), _MODEL_BATCH):
            pending: list[tuple] = []   # left open by the rules: (result index, candidates, veto, pair)
            for start in range(block, min(block + _MODEL_BATCH, len(u_titles)), _CHUNK):
                titles_c, ctx_c = u_titles[start:start + _CHUNK], u_ctx[start:start + _CHUNK]
                score, full, ctx_used, vetoed = self._score_chunk(titles_c, ctx_c)
                if raw_titles is not None:
                    veto_chunks.append(vetoed)
                fz = self._fuzzy(titles_c, ctx_c, score)
                ctx_keys = [self._context_key(ctx) for ctx in ctx_c]
                hits = [self.overrides.find(token_key(t), k) if t else None for t, k in zip(titles_c, ctx_keys)]
                chunk, candidates = self._decide_chunk(titles_c, u_corr[start:start + _CHUNK], score, full,
                                                       ctx_used, fz, hits)
                for i, res in enumerate(chunk):
                    res["normalised_title"] = " ".join(titles_c[i])
                    res["department_context"] = ctx_keys[i]
                    if self.model is not None and hits[i] is None and titles_c[i] and not (
                            res["decision"] == "auto" and res["method"] in _EXPLICIT):
                        pending.append((len(results) + i, candidates(i), vetoed[i], start + i))
                results.extend(chunk)
            if pending:   # the model's probabilities for the block's open titles in one call
                proba = self.model.predict([" ".join(u_titles[k]) for *_, k in pending],
                                           [" ".join(u_ctx[k]) for *_, k in pending])
                for (r, by_role, veto, k), p in zip(pending, proba):
                    results[r] = self._combine(results[r], by_role, p, veto, bool(u_ctx[k]))
            if on_progress is not None:
                on_progress(min(_MODEL_BATCH, len(u_titles) - block))
        if raw_titles is not None:
            vetoes = np.concatenate(veto_chunks) if veto_chunks else np.zeros((0, len(ALL_STREAMS)), dtype=bool)
            self._second_roles(results, raw_titles, u_titles, vetoes)
        columns = RESULT_COLUMNS + ["margin", "normalised_title", "department_context", *DIAGNOSTICS]
        per_pair = pd.DataFrame(results, columns=columns)
        per_pair["score"] = per_pair["score"].astype(int)
        per_pair["margin"] = per_pair["margin"].astype(int)
        return per_pair


def _gather(matrix, at: np.ndarray, width: int) -> np.ndarray:
    """The values of a sparse ``matrix`` at flat positions ``at`` (row * width + column), 0 where none."""
    m = matrix.tocsr()
    m.sum_duplicates()
    keys = np.repeat(np.arange(m.shape[0], dtype=np.int64), np.diff(m.indptr)) * width + m.indices
    out = np.zeros(len(at), dtype=m.dtype)
    if len(keys):
        i = np.minimum(np.searchsorted(keys, at), len(keys) - 1)
        found = keys[i] == at
        out[found] = m.data[i[found]]
    return out


def _first_per_row(rows: np.ndarray, values: np.ndarray, mask: np.ndarray, n: int) -> list[float]:
    """For rows sorted ascending: each row's first value where ``mask`` holds (0.0 where none does)."""
    out = np.zeros(n)
    chosen = rows[mask]
    if len(chosen):
        found, first = np.unique(chosen, return_index=True)
        out[found] = values[mask][first]
    return out.tolist()


def decide(score: float, margin: float, stream: str, ambiguous: bool, best_relevant: float,
           thresholds) -> str:
    """auto / review / none for a best candidate, by the thresholds of ``decision:`` in the taxonomy."""
    if score < thresholds.review_score:
        return "none"
    if ambiguous:
        return "review"
    if score >= thresholds.auto_score and margin >= thresholds.auto_margin:
        return "auto"
    if stream == NONE and best_relevant < thresholds.none_when_relevant_below:
        return "auto"
    return "review"


def _contains_phrase(tokens: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    n = len(phrase)
    return any(tokens[i:i + n] == phrase for i in range(len(tokens) - n + 1))


def _as_objects(values) -> pd.Series:
    if isinstance(values, pd.Series):
        return pd.Series(values.to_numpy(dtype=object), dtype=object)
    return pd.Series(list(values), dtype=object)


_MATCHERS: dict[tuple[str, str, str], Matcher] = {}
_FINGERPRINTS: dict[int, tuple[weakref.ref, str]] = {}


def fingerprint(part) -> str:
    """A content hash of a taxonomy, overrides or title model (``""`` for none): what a compiled matcher is
    cached on. Worked out once per object; an object's id is only a shortcut, checked through a weak
    reference, so a new object that reuses a freed one's id never gets its hash."""
    if part is None:
        return ""
    known = _FINGERPRINTS.get(id(part))
    if known is not None and known[0]() is part:
        return known[1]
    if isinstance(part, Taxonomy):
        content = (part.version, part.streams, part.roles, part.phrases, part.exclusions, part.contexts,
                   part.tables, part.thresholds, part.scoring)
    elif isinstance(part, Overrides):
        content = (part.version, part.format, part.entries, sorted(part.by_key.items()))
    else:   # a title model: its training rows, thresholds and library version say what it decides
        content = (getattr(part, "training_sha256", None), getattr(part, "thresholds", None),
                   getattr(part, "sklearn_version", None), getattr(part, "taxonomy_sha256", None),
                   getattr(part, "n_reviews", None), getattr(part, "n_rows", None))
        if content[0] is None:
            content = (type(part).__name__, id(part))   # not a TitleModel: nothing to hash it by
    digest = hashlib.sha256(repr(content).encode("utf-8")).hexdigest()
    try:
        _FINGERPRINTS[id(part)] = (weakref.ref(part), digest)
    except TypeError:   # cannot be weakly referenced: hash it again next time
        pass
    return digest


def get_matcher(taxonomy: Taxonomy | None = None, overrides: Overrides | None = None, model=None) -> Matcher:
    """A compiled matcher for the taxonomy, overrides (defaults from settings) and title model (none: rules
    only), reused while their content is unchanged (keyed on :func:`fingerprint`, never on ``id``)."""
    taxonomy = taxonomy or load_taxonomy()
    if overrides is None:
        overrides = load_overrides(None, taxonomy)
    key = (fingerprint(taxonomy), fingerprint(overrides), fingerprint(model))
    if key not in _MATCHERS:
        if len(_MATCHERS) > 8:
            _MATCHERS.clear()
        _MATCHERS[key] = Matcher(taxonomy, overrides, model)
    return _MATCHERS[key]


def match_titles(titles: Sequence | pd.Series, contexts: Sequence | pd.Series | None = None, *,
                 taxonomy: Taxonomy | None = None, overrides: Overrides | None = None,
                 model=None) -> pd.DataFrame:
    """Code titles (and optional department names): one result row per title, same order and length.

    Columns: role_id, role, stream, relation, score, method, matched_alias, decision, alternatives, then
    normalised_title, margin, taxonomy_version, department_context. With a title ``model``
    (:mod:`.model`) it decides where the rules are not explicit.
    """
    return get_matcher(taxonomy, overrides, model).code(titles, contexts)


def match_frame(df: pd.DataFrame, column: str, context_column: str | None = None, *,
                taxonomy: Taxonomy | None = None, overrides: Overrides | None = None, model=None) -> pd.DataFrame:
    """``df`` with the result columns appended. Input columns that clash with result names are kept as
    ``input_<name>``."""
    coded = match_titles(df[column], df[context_column] if context_column else None, taxonomy=taxonomy,
                         overrides=overrides, model=model)
    return _beside(df, coded)


def match_frame_chunks(df: pd.DataFrame, column: str, context_column: str | None = None, *,
                       taxonomy: Taxonomy | None = None, overrides: Overrides | None = None, model=None,
                       rows: int = 50_000, on_progress: Callable[[int], None] | None = None) -> Iterator[pd.DataFrame]:
    """:func:`match_frame` ``rows`` input rows at a time, for writing a large file as it is made: every
    distinct title is coded first (``on_progress(n)`` as the coding of ``n`` more rows is known), then each
    chunk is only looked up, so the whole coded table is never held at once."""
    matcher = get_matcher(taxonomy, overrides, model)
    per_pair, codes = matcher.code_pairs(df[column], df[context_column] if context_column else None,
                                         on_progress=on_progress)
    for start in range(0, max(len(df), 1), rows):
        part = df.iloc[start:start + rows]
        yield _beside(part, matcher.expand(per_pair, codes[start:start + rows]))


def _beside(df: pd.DataFrame, coded: pd.DataFrame) -> pd.DataFrame:
    clash = {c: f"input_{c}" for c in coded.columns if c in df.columns}
    base = df.rename(columns=clash).reset_index(drop=True)
    return pd.concat([base, coded], axis=1)
