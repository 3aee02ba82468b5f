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

import logging
import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process
from scipy import sparse

from trust_survey.matching.model import OVERRULE, _model_decision
from trust_survey.matching.normalise import title_parts, token_key
from trust_survey.matching.overrides import OTHER, Overrides, load_overrides
from trust_survey.matching.taxonomy import ALL_STREAMS, NONE, STREAMS, Taxonomy, load_taxonomy
from trust_survey.values import is_blank

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
_GAP_WORD_WEIGHT = 0.45   # "clinical" between an alias's words is harmless; "digital" or "health" is not
_TOP_K = 16


@dataclass
class _Candidate:
    phrase: int
    score: float
    full: bool
    context_used: bool


class Matcher:
    """A taxonomy (plus reviewed aliases) compiled into matrices; call :meth:`code` on titles."""

    def __init__(self, taxonomy: Taxonomy, overrides: Overrides | None = None, model=None):
        self.taxonomy = taxonomy
        self.overrides = overrides or Overrides.empty()
        self.model = model
        self._context_keys: dict[tuple[str, ...], str] = {}
        s = taxonomy.scoring
        self.scoring = s
        phrases = taxonomy.phrases
        self.phrases = phrases
        role_ids = list(taxonomy.roles)
        self.role_index = {r: i for i, r in enumerate(role_ids)}
        self.role_ids = role_ids
        self.stream_index = {st: i for i, st in enumerate(ALL_STREAMS)}

        vocab: dict[str, int] = {}
        for p in phrases:
            for t in p.tokens:
                vocab.setdefault(t, len(vocab))
        for terms in taxonomy.exclusions.values():
            for term in terms:
                for t in term:
                    vocab.setdefault(t, len(vocab))
        for ctx in taxonomy.contexts:
            for term in ctx.terms:
                for t in term:
                    vocab.setdefault(t, len(vocab))
        for t in sorted(taxonomy.tables.neutral):
            vocab.setdefault(t, len(vocab))
        self.vocab = vocab
        self.vocab_list = list(vocab)
        self._long_words = [t for t in vocab if len(t) >= 6]
        V, P, S = len(vocab), len(phrases), len(ALL_STREAMS)

        # Word weights: inverse role frequency, so words that name one role weigh most.
        role_tokens: dict[str, set[str]] = {r: set() for r in role_ids}
        for p in phrases:
            role_tokens[p.role_id].update(p.tokens)
        df = np.zeros(V)
        per_stream = np.zeros((V, S))
        for rid, toks in role_tokens.items():
            sidx = self.stream_index[taxonomy.roles[rid].stream]
            for t in toks:
                df[vocab[t]] += 1
                per_stream[vocab[t], sidx] += 1
        n_roles = len(role_ids)
        idf = np.log((n_roles + 1) / (df + 0.5))
        weights = np.clip(idf / math.log((n_roles + 1) / 1.5), s.min_weight, 1.0)
        for t in taxonomy.tables.neutral:
            if t in vocab:
                weights[vocab[t]] = s.neutral_weight
        is_neutral = np.isin(np.arange(V), [vocab[t] for t in taxonomy.tables.neutral])
        weights[(df == 0) & ~is_neutral] = s.unknown_weight
        self.weights = weights.astype(np.float32)
        # Which streams a word speaks for: shared equally by the streams whose roles use it; a word that
        # any stream uses never speaks for none; neutral words are explained by any role.
        in_stream = per_stream > 0
        relevant = in_stream[:, :len(STREAMS)]
        n_rel = relevant.sum(axis=1, keepdims=True)
        affinity = np.zeros((V, S))
        affinity[:, :len(STREAMS)] = np.where(n_rel > 0, relevant / np.maximum(n_rel, 1), 0.0)
        affinity[:, self.stream_index[NONE]] = (n_rel[:, 0] == 0) & in_stream[:, self.stream_index[NONE]]
        for t in taxonomy.tables.neutral:
            if t in vocab:
                affinity[vocab[t]] = 1.0
        self.affinity = affinity.astype(np.float32)
        self.meaningful = np.array([t not in taxonomy.tables.neutral for t in vocab])

        rows, cols, aff = [], [], []
        self.phrase_stream = np.empty(P, dtype=np.int64)
        self.phrase_role = np.empty(P, dtype=np.int64)
        self.phrase_factor = np.ones(P, dtype=np.float32)
        # An ambiguous role says the specialism is not stated, so a stated specialism never counts for it.
        self.phrase_credit = np.full(P, s.stream_credit, dtype=np.float32)
        self.is_key_term = np.array([p.kind == "key_term" for p in phrases])
        for j, p in enumerate(phrases):
            role = taxonomy.roles[p.role_id]
            sidx = self.stream_index[role.stream]
            self.phrase_stream[j] = sidx
            self.phrase_role[j] = self.role_index[p.role_id]
            if p.kind == "key_term":
                self.phrase_factor[j] = s.key_term_factor
            if role.ambiguous:
                self.phrase_credit[j] = 0.0
            for t in p.tokens:
                rows.append(j)
                cols.append(vocab[t])
                aff.append(self.affinity[vocab[t], sidx])
        ones = np.ones(len(rows), dtype=np.float32)
        A = sparse.csr_matrix((ones, (rows, cols)), shape=(P, V))
        self.A_T = A.T.tocsc()
        aff_data = np.array(aff, dtype=np.float32)
        self.Aaff_T = sparse.csr_matrix((aff_data, (rows, cols)), shape=(P, V)).T.tocsc()
        self.W_A = np.asarray(A @ self.weights).ravel()
        self.phrase_sets = [frozenset(p.tokens) for p in phrases]
        neutral = taxonomy.tables.neutral
        self.phrase_core = [frozenset(t for t in p.tokens if t not in neutral) or frozenset(p.tokens)
                            for p in phrases]
        # Phrases are compiled role by role; the start of each role's block lets every role put its best
        # alias forward, so a role with many aliases cannot crowd another stream out of the margin.
        starts = np.flatnonzero(np.r_[True, np.diff(self.phrase_role) != 0]) if P else np.zeros(0, int)
        self.role_starts = starts if (np.diff(self.phrase_role) >= 0).all() else None
        self._block_of = np.cumsum(np.r_[True, np.diff(self.phrase_role) != 0]) - 1 if P else starts
        self.phrase_has_core = np.array([any(t not in neutral for t in p.tokens) for p in phrases])
        self.phrase_ambiguous = np.array([taxonomy.roles[p.role_id].ambiguous for p in phrases])
        self._core_cols = sparse.diags(self.meaningful.astype(np.float32))
        self.phrase_weight = self.W_A
        self.phrase_sorted = [" ".join(sorted(p.tokens)) for p in phrases]
        self.exact = {}
        for j, p in enumerate(phrases):
            self.exact.setdefault(p.key, j)

        # Exclusion terms: term x vocab, and term -> roles it vetoes.
        terms: dict[tuple[str, ...], int] = {}
        t_rows, t_cols, r_rows, r_cols = [], [], [], []
        for rid, excl in taxonomy.exclusions.items():
            for term in excl:
                if term not in terms:
                    terms[term] = len(terms)
                    for t in term:
                        t_rows.append(terms[term])
                        t_cols.append(vocab[t])
                r_rows.append(terms[term])
                r_cols.append(self.role_index[rid])
        n_terms = max(len(terms), 1)
        self.E_T = sparse.csr_matrix((np.ones(len(t_rows), dtype=np.float32), (t_rows, t_cols)),
                                     shape=(n_terms, V)).T.tocsc()
        self.E_size = np.array([len(t) for t in terms] or [1], dtype=np.float32)
        self.E_terms = list(terms) or [()]
        self.E_role = sparse.csr_matrix((np.ones(len(r_rows), dtype=np.float32), (r_rows, r_cols)),
                                        shape=(n_terms, len(role_ids))).toarray() > 0
        # role x stream, to tell when exclusion terms veto every role of a stream (the stream's own terms)
        self.role_stream = np.zeros((len(role_ids), S), dtype=np.float32)
        for rid, i in self.role_index.items():
            self.role_stream[i, self.stream_index[taxonomy.roles[rid].stream]] = 1.0
        self.roles_per_stream = self.role_stream.sum(axis=0)

    # ------------------------------------------------------------------ words
    def _correct_tokens(self, tokens: Iterable[str]) -> dict[str, str]:
        """Unknown word -> known word, for plural forms and misspellings (one cdist over unique words)."""
        s = self.scoring
        unknown = sorted({t for t in tokens if t not in self.vocab})
        fixes: dict[str, str] = {}
        rest = []
        for t in unknown:
            if len(t) > 3 and t.endswith("s") and t[:-1] in self.vocab:
                fixes[t] = t[:-1]
            elif len(t) >= s.typo_min_length and not t.isdigit():
                rest.append(t)
        if rest:
            scores = process.cdist(rest, self.vocab_list, scorer=fuzz.ratio, score_cutoff=s.typo_cutoff,
                                   dtype=np.uint8, workers=-1)
            for i, t in enumerate(rest):
                row = scores[i]
                best = int(row.argmax())
                if row[best] >= s.typo_cutoff and self.vocab_list[best][0] == t[0]:
                    fixes[t] = self.vocab_list[best]
        # Compounds keep their known head: pharmacogenomics -> genomics, neuroradiologist -> radiologist.
        for t in rest:
            if t not in fixes and len(t) >= 9:
                heads = [v for v in self._long_words if t.endswith(v) and len(t) - len(v) >= 3]
                if heads:
                    fixes[t] = max(heads, key=len)
        return fixes

    def _matrix(self, token_lists: Sequence[tuple[str, ...]]) -> sparse.csr_matrix:
        rows, cols = [], []
        for i, toks in enumerate(token_lists):
            for t in toks:
                j = self.vocab.get(t)
                if j is not None:
                    rows.append(i)
                    cols.append(j)
        data = self.weights[cols] if cols else np.zeros(0, dtype=np.float32)
        return sparse.csr_matrix((data, (rows, cols)), shape=(len(token_lists), len(self.vocab)))

    def _title_weight(self, toks: tuple[str, ...]) -> float:
        w = self.scoring.unknown_weight
        return float(sum(self.weights[self.vocab[t]] if t in self.vocab else w for t in toks))

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
        s = self.scoring
        T = self._matrix(titles)
        # Department words complete aliases, but not neutral ones ("Digital Services" is not "services").
        neutral = self.taxonomy.tables.neutral
        TC = self._matrix([tuple(dict.fromkeys(t + tuple(w for w in c if w not in neutral)))
                           for t, c in zip(titles, contexts)])
        W_T = np.array([self._title_weight(t) for t in titles], dtype=np.float32)
        W_T[W_T == 0] = 1.0
        # Key terms name a field, not a job: next to one, a word the taxonomy does not know weighs fully
        # ("Clinical Software Tester" is not safely a clinical software developer).
        n_unknown = np.array([sum(t not in self.vocab for t in toks) for toks in titles], dtype=np.float32)
        W_key = W_T + (1.0 - s.unknown_weight) * n_unknown
        hit = (TC @ self.A_T).toarray()
        in_t = (T @ self.A_T).toarray()
        aff_in = (T @ self.Aaff_T).toarray()
        stream_hits = np.asarray(T @ self.affinity)
        extra = stream_hits[:, self.phrase_stream] - aff_in
        np.maximum(extra, 0, out=extra)
        alias_cov = np.minimum(hit / self.W_A, 1.0)
        W = np.where(self.is_key_term, W_key[:, None], W_T[:, None])
        title_cov = np.minimum((in_t + self.phrase_credit * extra) / W, 1.0)
        score = 100.0 * alias_cov ** s.alias_power * title_cov ** s.title_power * self.phrase_factor
        context_used = hit - in_t > 1e-6
        score = np.where(context_used, score * s.context_factor, score)
        if context_used.any():
            # The department completes what the title says; it never says it alone ("Dialysis Assistant"
            # in "Renal" is not a "renal specialist"): the title must bring a meaningful word of the alias.
            in_core = ((T @ self._core_cols) @ self.A_T).toarray()
            orphan = context_used & (in_core <= 1e-6) & self.phrase_has_core[None, :]
            score[orphan] = 0.0

        present = (T.sign() @ self.E_T).toarray() >= self.E_size - 0.5
        for i, k in zip(*np.nonzero(present & (self.E_size > 1))):
            present[i, k] = _contains_phrase(titles[i], self.E_terms[k])
        stream_veto = np.zeros((len(titles), len(ALL_STREAMS)), dtype=bool)
        if present.any():
            role_veto = (present.astype(np.float32) @ self.E_role.astype(np.float32)) > 0
            score[role_veto[:, self.phrase_role]] = 0.0
            stream_veto = (role_veto.astype(np.float32) @ self.role_stream >= self.roles_per_stream - 0.5) & (
                self.roles_per_stream > 0)
        support, veto = self._context_effects(contexts)
        self._last_veto = stream_veto | veto   # what the model may never choose (see _combine)
        if veto.any():
            score[veto[:, self.phrase_stream]] = 0.0
        if support.any():
            bonus = support[:, self.phrase_stream] & (score > 0)
            score = np.where(bonus, score + s.context_support_bonus, score)
        np.minimum(score, 100.0, out=score)
        full = alias_cov >= 0.999
        return score.astype(np.float32), full, context_used

    def _fuzzy(self, keys: list[str], score: np.ndarray) -> np.ndarray:
        """Whole-title near-misses, for rows whose best containment score is below the fuzzy cap."""
        s = self.scoring
        rows = [i for i, k in enumerate(keys) if k and score[i].max() < s.fuzzy_cap]
        fz = np.zeros_like(score, dtype=bool)
        if not rows:
            return fz
        sim = process.cdist([keys[i] for i in rows], self.phrase_sorted, scorer=fuzz.ratio,
                            score_cutoff=s.fuzzy_min, dtype=np.uint8, workers=-1)
        for r, i in enumerate(rows):
            known = {t for t in keys[i].split() if t in self.vocab}
            for j in np.nonzero(sim[r])[0]:
                # only words the taxonomy does not know may be near-misses: "dental" is not "renal"
                cand = min(float(sim[r, j]), s.fuzzy_cap)
                if cand > score[i, j] and known <= self.phrase_sets[j]:
                    score[i, j] = cand
                    fz[i, j] = True
        return fz

    # ------------------------------------------------------------------ deciding
    def _decide(self, toks: tuple[str, ...], corrected: bool, scores: np.ndarray, full: np.ndarray,
                ctx_used: np.ndarray, fuzzy: np.ndarray, overrides_hit, learned=None) -> dict:
        """The rules' coding of one title; with ``learned`` (probabilities, vetoed streams, has department)
        combined with the model's by :meth:`_combine`."""
        result, by_role = self._decide_rules(toks, corrected, scores, full, ctx_used, fuzzy, overrides_hit)
        if learned is None or overrides_hit is not None or not toks:
            return result
        return self._combine(result, by_role, *learned)

    def _decide_rules(self, toks, corrected, scores, full, ctx_used, fuzzy, overrides_hit):
        tax, th = self.taxonomy, self.taxonomy.thresholds
        result = {"role_id": "", "role": "", "stream": NONE, "relation": "none", "score": 0, "method": "none",
                  "matched_alias": "", "decision": "none", "alternatives": "", "margin": 0,
                  "_score": 0.0, "_margin": 0.0, "_stream": NONE, "_ambiguous": False, "_best_relevant": 0.0}
        if not toks:
            return result, []
        k = min(_TOP_K, len(scores))
        idx = np.argpartition(-scores, k - 1)[:k]
        if self.role_starts is not None:
            role_max = np.maximum.reduceat(scores, self.role_starts)
            best_of_role = np.flatnonzero((scores >= role_max[self._block_of]) & (scores > 0))
            idx = np.union1d(idx, best_of_role)
        # A gap needs a heavy known word strictly inside the title; most titles have none, so skip the check.
        inner = toks[1:-1]
        gaps = any(t in self.vocab and self.weights[self.vocab[t]] >= _GAP_WORD_WEIGHT for t in inner)
        cands = [_Candidate(int(j), float(scores[j]) * (self._gap_factor(toks, int(j)) if gaps else 1.0),
                            bool(full[j]), bool(ctx_used[j])) for j in idx if scores[j] > 0]
        # The department completes a title that is not itself a role's alias ("Software Engineer" in Medical
        # Physics); it never competes with one that is ("Chief Information Officer" in Digital is not a
        # chief *digital* information officer, "Chief Clinical Information Officer" stays automatic).
        key = token_key(toks)
        if any(not c.context_used and not self.phrase_ambiguous[c.phrase] and self.phrases[c.phrase].key == key
               for c in cands):
            cands = [c for c in cands if not c.context_used]
        # Dominance on meaningful words: "software engineer" (or "research software engineer") gives way
        # to a fully present "medical physics software engineer".
        core = self.phrase_core
        full_sets = [core[c.phrase] for c in cands if c.full]
        kept = [c for c in cands if not any(core[c.phrase] < fs for fs in full_sets)]
        kept.sort(key=lambda c: (-c.score, c.context_used, -self.phrase_weight[c.phrase], c.phrase))
        by_role: list[_Candidate] = []
        seen_roles: set[int] = set()
        for c in kept:
            r = self.phrase_role[c.phrase]
            if r not in seen_roles:
                seen_roles.add(r)
                by_role.append(c)

        if by_role:
            best = by_role[0]
            best_stream = self.phrase_stream[best.phrase]
            other = [c.score for c in by_role[1:] if self.phrase_stream[c.phrase] != best_stream]
            relevant = [c.score for c in by_role if ALL_STREAMS[self.phrase_stream[c.phrase]] in STREAMS]
            role = tax.roles[self.phrases[best.phrase].role_id]
            result.update(_score=best.score, _margin=best.score - (max(other) if other else 0.0),
                          _stream=role.stream, _ambiguous=role.ambiguous,
                          _best_relevant=max(relevant) if relevant else 0.0)
        if overrides_hit is not None:
            return self._override_result(overrides_hit, by_role, result), by_role
        if not by_role:
            return result, by_role
        phrase = self.phrases[best.phrase]
        decision = decide(result["_score"], result["_margin"], role.stream, role.ambiguous,
                          result["_best_relevant"], th)
        if decision == "none":
            result["score"] = int(round(best.score))
            return result, by_role
        if fuzzy[best.phrase] or corrected or best.context_used or token_key(toks) != phrase.key:
            method = "abbreviation" if phrase.kind == "abbreviation" else "fuzzy"
        else:
            method = {"name": "exact", "abbreviation": "abbreviation"}.get(phrase.kind, "alias")
        result.update(role_id=role.id, role=role.name, stream=role.stream, relation=role.relation,
                      score=int(round(best.score)), method=method, matched_alias=phrase.text,
                      decision=decision, alternatives=self._alternatives(by_role[1:]),
                      margin=int(round(result["_margin"])))
        return result, by_role

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
            decision = _model_decision(p, th)
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

    def _gap_factor(self, toks: tuple[str, ...], phrase: int) -> float:
        """``gap_factor`` when a meaningful title word sits between the alias's words ("Clinical Safety
        Officer, Digital Health" is not a "health safety officer"), else 1."""
        words = self.phrase_sets[phrase]
        where = [i for i, t in enumerate(toks) if t in words]
        if len(where) < 2:
            return 1.0
        for t in toks[where[0]:where[-1] + 1]:
            if t not in words and t in self.vocab and self.weights[self.vocab[t]] >= _GAP_WORD_WEIGHT:
                return self.scoring.gap_factor
        return 1.0

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
        score, full, _ = self._score_chunk([toks], [ctx])
        rows = []
        for j in np.argsort(-score[0], kind="stable")[:top]:
            if score[0, j] <= 0:
                break
            p = self.phrases[j]
            rows.append({"phrase": p.text, "kind": p.kind, "role_id": p.role_id,
                         "stream": self.taxonomy.roles[p.role_id].stream,
                         "score": round(float(score[0, j]) * self._gap_factor(toks, int(j)), 1),
                         "alias_full": bool(full[0, j])})
        return pd.DataFrame(rows, columns=["phrase", "kind", "role_id", "stream", "score", "alias_full"])

    def _second_roles(self, results: list[dict], raw_titles: list, tokens: list[tuple[str, ...]],
                      vetoes: list[np.ndarray]) -> None:
        """A title coded none (or sent to review) that joins a second role named explicitly ("Consultant
        Surgeon & CCIO", "Clinical Perfusionist, Clinical Lead for Digital Research") takes that role's
        stream: the policy labels a person by every discipline they hold. Only an exact, alias or
        abbreviation match of the part, coded automatically, to one stream the whole title's exclusion terms
        and department do not veto (and the stream the rules suggested for a title they sent to review, if
        any); never over a title that is itself a role's alias or a reviewed alias."""
        if not hasattr(self, "_key_terms"):
            self._key_terms = {p.key for p in self.phrases if p.kind == "key_term"}
            self._relevant_words = {t for t, j in self.vocab.items() if self.affinity[j, :len(STREAMS)].any()}
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
             diagnostics: bool = False, _parts: bool = False) -> pd.DataFrame:
        """One result row per input title, in input order: :data:`RESULT_COLUMNS` + :data:`EXTRA_COLUMNS`.

        With ``diagnostics`` the unrounded values behind the decision are added (``_score``, ``_margin``,
        ``_stream``, ``_ambiguous``, ``_best_relevant``) so thresholds can be calibrated without re-scoring.
        """
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
        t_key = np.array([token_key(t) for t in t_tokens] + [""], dtype=object)[t_codes]
        c_key = np.array([token_key(t) for t in c_tokens] + [""], dtype=object)[c_codes]
        pair_codes, pairs = pd.factorize(
            pd.Series(t_key, dtype=object) + "\x1f" + pd.Series(c_key, dtype=object))
        _, first_row = np.unique(pair_codes, return_index=True)
        u_titles = [t_tokens[t_codes[r]] if t_codes[r] >= 0 else () for r in first_row]
        u_ctx = [c_tokens[c_codes[r]] if c_codes[r] >= 0 else () for r in first_row]
        u_corr = [corrected_t[t_codes[r]] if t_codes[r] >= 0 else False for r in first_row]
        log.debug("coding %d titles: %d unique title/department pairs, %d corrected words", n, len(pairs),
                  len(fixes))

        results = []
        pending = []   # titles the rules did not code explicitly, for the model: (result, candidates, veto, pair)
        vetoes: list[np.ndarray] = []   # per pair: the streams exclusion terms or the department veto
        for start in range(0, len(pairs), _CHUNK):
            sl = slice(start, start + _CHUNK)
            titles_c, ctx_c = u_titles[sl], u_ctx[sl]
            score, full, ctx_used = self._score_chunk(titles_c, ctx_c)
            vetoed = self._last_veto
            vetoes.extend(vetoed)
            keys = [" ".join(sorted(t)) for t in titles_c]
            exact_rows = [i for i, t in enumerate(titles_c) if token_key(t) in self.exact and not ctx_c[i]]
            masked = score.copy()
            masked[exact_rows] = 100.0   # exact titles skip the fuzzy pass
            fz = self._fuzzy(keys, masked)
            score = np.where(fz, masked, score)
            for i, toks in enumerate(titles_c):
                ctx_key = self._context_key(ctx_c[i])
                hit = self.overrides.find(token_key(toks), ctx_key) if toks else None
                res, by_role = self._decide_rules(toks, u_corr[start + i], score[i], full[i], ctx_used[i], fz[i],
                                                  hit)
                res["normalised_title"] = " ".join(toks)
                res["department_context"] = ctx_key
                results.append(res)
                if self.model is not None and hit is None and toks and not (
                        res["decision"] == "auto" and res["method"] in ("exact", "alias", "abbreviation")):
                    pending.append((len(results) - 1, by_role, vetoed[i], start + i))
        if pending:
            proba = self.model.predict([" ".join(u_titles[k]) for *_, k in pending],
                                       [" ".join(u_ctx[k]) for *_, k in pending])
            for (r, by_role, veto, k), p in zip(pending, proba):
                results[r] = self._combine(results[r], by_role, p, veto, bool(u_ctx[k]))
        if not _parts:
            self._second_roles(results, [titles.iloc[r] for r in first_row], u_titles, vetoes)
        columns = RESULT_COLUMNS + ["margin", "normalised_title", "department_context", *DIAGNOSTICS]
        per_pair = pd.DataFrame(results, columns=columns)
        out = per_pair.iloc[pair_codes].reset_index(drop=True)
        out["taxonomy_version"] = tax.version
        out["model_version"] = self.model.version if self.model is not None else ""
        out["score"] = out["score"].astype(int)
        out["margin"] = out["margin"].astype(int)
        return out[RESULT_COLUMNS + EXTRA_COLUMNS + (DIAGNOSTICS if diagnostics else [])]


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


_MATCHERS: dict[tuple[int, int], Matcher] = {}


def get_matcher(taxonomy: Taxonomy | None = None, overrides: Overrides | None = None, model=None) -> Matcher:
    """A compiled matcher for the taxonomy, overrides (defaults from settings) and title model (none: rules
    only), reused while unchanged."""
    taxonomy = taxonomy or load_taxonomy()
    if overrides is None:
        overrides = load_overrides(None, taxonomy)
    key = (id(taxonomy), id(overrides), id(model))
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
    clash = {c: f"input_{c}" for c in coded.columns if c in df.columns}
    base = df.rename(columns=clash).reset_index(drop=True)
    return pd.concat([base, coded], axis=1)
