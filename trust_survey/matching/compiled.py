"""The role taxonomy compiled into the arrays and sparse matrices the matcher scores titles with.

:func:`compile_taxonomy` turns a :class:`~trust_survey.matching.taxonomy.Taxonomy` into a
:class:`CompiledTaxonomy` once per process; :class:`~trust_survey.matching.matcher.Matcher` only reads it.
Three index spaces run through it:

- **words** (``V``): every word of a phrase, an exclusion term, a department context or the neutral list,
  numbered in that order (``vocab`` maps a word to its column);
- **phrases** (``P``): the taxonomy's names, aliases, abbreviations and key terms (``taxonomy.phrases``),
  compiled role by role;
- **streams** (``S``): :data:`~trust_survey.matching.taxonomy.ALL_STREAMS`, the relevant streams then none.

Matrices named ``words_by_<x>`` are ``V x <x>`` (CSC), so a title's word row times one gives a value per
``<x>``. How the weights are chosen and what each score means is told in :mod:`.matcher`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from trust_survey.matching.taxonomy import ALL_STREAMS, NONE, STREAMS, Phrase, Taxonomy

#: A word at least this heavy between an alias's words breaks the alias apart (see ``gap_factor``):
#: "clinical" between them is harmless; "digital" or "health" is not.
GAP_WORD_WEIGHT = 0.45


@dataclass(frozen=True, eq=False)
class CompiledTaxonomy:
    """A taxonomy as matrices. Built by :func:`compile_taxonomy`; read-only afterwards."""

    # ---- words (V)
    vocab: dict[str, int]                 #: word -> column
    words: list[str]                      #: column -> word
    long_words: list[str]                 #: words of six letters or more: known heads of compounds
    word_weight: np.ndarray               #: (V,) float32: inverse role frequency, clipped; neutral and unknown light
    word_heavy: np.ndarray                #: (V,) bool: weight >= GAP_WORD_WEIGHT (breaks an alias apart)
    word_stream_affinity: np.ndarray      #: (V, S) float32: which streams a word speaks for (shares sum to 1)
    word_meaningful: np.ndarray           #: (V,) bool: not a neutral word
    meaningful_diag: sparse.spmatrix      #: (V, V) diagonal of word_meaningful: keeps a title's meaningful words

    # ---- phrases (P)
    phrases: list[Phrase]                 #: the taxonomy's phrases, role by role
    phrase_role: np.ndarray               #: (P,) int64: index into role_ids
    phrase_stream: np.ndarray             #: (P,) int64: index into ALL_STREAMS
    phrase_factor: np.ndarray             #: (P,) float32: key_term_factor for key terms, else 1
    phrase_credit: np.ndarray             #: (P,) float32: stream_credit, 0 for roles of unstated specialism
    phrase_is_key_term: np.ndarray        #: (P,) bool
    phrase_ambiguous: np.ndarray          #: (P,) bool: the phrase's role is ambiguous (specialism not stated)
    phrase_has_core: np.ndarray           #: (P,) bool: holds a meaningful (non-neutral) word
    phrase_weight: np.ndarray             #: (P,) float32: summed weight of the phrase's words
    phrase_words: list[frozenset[str]]    #: each phrase's words
    phrase_core: list[frozenset[str]]     #: its meaningful words (all its words when none is)
    phrase_sorted: list[str]              #: its words sorted and joined: what fuzzy similarity compares
    phrase_key_id: np.ndarray             #: (P,) int64: id of the phrase's order-free key in key_ids
    phrase_word_cols: np.ndarray          #: (P, L) int64: the phrase's word columns, padded with V
    dominates: np.ndarray                 #: sorted int64 keys ``f * P + c`` where core(c) < core(f) strictly
    words_by_phrase: sparse.csc_matrix    #: (V, P): 1 where the phrase has the word
    affinity_by_phrase: sparse.csc_matrix  #: (V, P): the word's affinity for the phrase's stream
    exact: dict[str, int]                 #: order-free key -> first phrase with it
    key_ids: dict[str, int]               #: order-free key of any phrase -> id

    # ---- roles (R) and blocks of phrases
    role_ids: list[str]                   #: role index -> role id
    role_index: dict[str, int]            #: role id -> index
    role_starts: np.ndarray | None        #: first phrase of each role's block (None if roles are not contiguous)
    phrase_block: np.ndarray              #: (P,) int64: block (role run) of each phrase
    role_stream: np.ndarray               #: (R, S) float32: 1 at each role's stream
    roles_per_stream: np.ndarray          #: (S,) float32

    # ---- exclusion terms (E)
    words_by_exclusion: sparse.csc_matrix  #: (V, E): 1 where the term has the word
    exclusion_size: np.ndarray            #: (E,) float32: words in the term
    exclusion_terms: list[tuple[str, ...]]  #: the terms (``[()]`` when there are none)
    exclusion_vetoes_role: np.ndarray     #: (E, R) bool: the roles each term vetoes

    stream_index: dict[str, int]          #: stream -> index into ALL_STREAMS


def compile_taxonomy(taxonomy: Taxonomy) -> CompiledTaxonomy:
    """Everything the matcher needs from ``taxonomy``, as arrays (see :class:`CompiledTaxonomy`)."""
    s = taxonomy.scoring
    phrases = taxonomy.phrases
    role_ids = list(taxonomy.roles)
    role_index = {r: i for i, r in enumerate(role_ids)}
    stream_index = {st: i for i, st in enumerate(ALL_STREAMS)}
    neutral = taxonomy.tables.neutral

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
    for t in sorted(neutral):
        vocab.setdefault(t, len(vocab))
    V, P, S = len(vocab), len(phrases), len(ALL_STREAMS)

    # Word weights: inverse role frequency, so words that name one role weigh most.
    role_tokens: dict[str, set[str]] = {r: set() for r in role_ids}
    for p in phrases:
        role_tokens[p.role_id].update(p.tokens)
    df = np.zeros(V)
    per_stream = np.zeros((V, S))
    for rid, toks in role_tokens.items():
        sidx = stream_index[taxonomy.roles[rid].stream]
        for t in toks:
            df[vocab[t]] += 1
            per_stream[vocab[t], sidx] += 1
    n_roles = len(role_ids)
    idf = np.log((n_roles + 1) / (df + 0.5))
    weights = np.clip(idf / math.log((n_roles + 1) / 1.5), s.min_weight, 1.0)
    for t in neutral:
        if t in vocab:
            weights[vocab[t]] = s.neutral_weight
    is_neutral = np.isin(np.arange(V), [vocab[t] for t in neutral])
    weights[(df == 0) & ~is_neutral] = s.unknown_weight
    weights = weights.astype(np.float32)
    # Which streams a word speaks for: shared equally by the streams whose roles use it; a word that
    # any stream uses never speaks for none; neutral words are explained by any role.
    in_stream = per_stream > 0
    relevant = in_stream[:, :len(STREAMS)]
    n_rel = relevant.sum(axis=1, keepdims=True)
    affinity = np.zeros((V, S))
    affinity[:, :len(STREAMS)] = np.where(n_rel > 0, relevant / np.maximum(n_rel, 1), 0.0)
    affinity[:, stream_index[NONE]] = (n_rel[:, 0] == 0) & in_stream[:, stream_index[NONE]]
    for t in neutral:
        if t in vocab:
            affinity[vocab[t]] = 1.0
    affinity = affinity.astype(np.float32)
    meaningful = np.array([t not in neutral for t in vocab])

    rows, cols, aff = [], [], []
    phrase_stream = np.empty(P, dtype=np.int64)
    phrase_role = np.empty(P, dtype=np.int64)
    phrase_factor = np.ones(P, dtype=np.float32)
    # An ambiguous role says the specialism is not stated, so a stated specialism never counts for it.
    phrase_credit = np.full(P, s.stream_credit, dtype=np.float32)
    for j, p in enumerate(phrases):
        role = taxonomy.roles[p.role_id]
        sidx = stream_index[role.stream]
        phrase_stream[j] = sidx
        phrase_role[j] = role_index[p.role_id]
        if p.kind == "key_term":
            phrase_factor[j] = s.key_term_factor
        if role.ambiguous:
            phrase_credit[j] = 0.0
        for t in p.tokens:
            rows.append(j)
            cols.append(vocab[t])
            aff.append(affinity[vocab[t], sidx])
    ones = np.ones(len(rows), dtype=np.float32)
    A = sparse.csr_matrix((ones, (rows, cols)), shape=(P, V))
    phrase_weight = np.asarray(A @ weights).ravel()
    phrase_core = [frozenset(t for t in p.tokens if t not in neutral) or frozenset(p.tokens) for p in phrases]
    # Phrases are compiled role by role; the start of each role's block lets every role put its best
    # alias forward, so a role with many aliases cannot crowd another stream out of the margin.
    starts = np.flatnonzero(np.r_[True, np.diff(phrase_role) != 0]) if P else np.zeros(0, int)
    exact: dict[str, int] = {}
    key_ids: dict[str, int] = {}
    for j, p in enumerate(phrases):
        exact.setdefault(p.key, j)
        key_ids.setdefault(p.key, len(key_ids))
    longest = max((len(p.tokens) for p in phrases), default=1)
    word_cols = np.full((P, max(longest, 1)), V, dtype=np.int64)
    for j, p in enumerate(phrases):
        word_cols[j, :len(p.tokens)] = [vocab[t] for t in p.tokens]

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
            r_cols.append(role_index[rid])
    n_terms = max(len(terms), 1)
    role_stream = np.zeros((len(role_ids), S), dtype=np.float32)
    for rid, i in role_index.items():
        role_stream[i, stream_index[taxonomy.roles[rid].stream]] = 1.0

    return CompiledTaxonomy(
        vocab=vocab, words=list(vocab), long_words=[t for t in vocab if len(t) >= 6], word_weight=weights,
        word_heavy=weights >= GAP_WORD_WEIGHT, word_stream_affinity=affinity, word_meaningful=meaningful,
        meaningful_diag=sparse.diags(meaningful.astype(np.float32)),
        phrases=phrases, phrase_role=phrase_role, phrase_stream=phrase_stream, phrase_factor=phrase_factor,
        phrase_credit=phrase_credit, phrase_is_key_term=np.array([p.kind == "key_term" for p in phrases]),
        phrase_ambiguous=np.array([taxonomy.roles[p.role_id].ambiguous for p in phrases], dtype=bool),
        phrase_has_core=np.array([any(t not in neutral for t in p.tokens) for p in phrases], dtype=bool),
        phrase_weight=phrase_weight, phrase_words=[frozenset(p.tokens) for p in phrases], phrase_core=phrase_core,
        phrase_sorted=[" ".join(sorted(p.tokens)) for p in phrases],
        phrase_key_id=np.array([key_ids[p.key] for p in phrases], dtype=np.int64), phrase_word_cols=word_cols,
        dominates=_dominance(phrase_core), words_by_phrase=A.T.tocsc(),
        affinity_by_phrase=sparse.csr_matrix((np.array(aff, dtype=np.float32), (rows, cols)),
                                             shape=(P, V)).T.tocsc(),
        exact=exact, key_ids=key_ids,
        role_ids=role_ids, role_index=role_index,
        role_starts=starts if (np.diff(phrase_role) >= 0).all() else None,
        phrase_block=np.cumsum(np.r_[True, np.diff(phrase_role) != 0]) - 1 if P else starts,
        role_stream=role_stream, roles_per_stream=role_stream.sum(axis=0),
        words_by_exclusion=sparse.csr_matrix((np.ones(len(t_rows), dtype=np.float32), (t_rows, t_cols)),
                                             shape=(n_terms, V)).T.tocsc(),
        exclusion_size=np.array([len(t) for t in terms] or [1], dtype=np.float32),
        exclusion_terms=list(terms) or [()],
        exclusion_vetoes_role=sparse.csr_matrix((np.ones(len(r_rows), dtype=np.float32), (r_rows, r_cols)),
                                                shape=(n_terms, len(role_ids))).toarray() > 0,
        stream_index=stream_index,
    )


def _dominance(cores: list[frozenset[str]]) -> np.ndarray:
    """Sorted keys ``f * P + c`` for every pair of phrases whose meaningful words are a strict subset:
    core(c) < core(f). A fully matched f then dominates c (see the matcher's decision)."""
    P = len(cores)
    if not P:
        return np.zeros(0, dtype=np.int64)
    index: dict[str, int] = {}
    rows, cols = [], []
    for j, core in enumerate(cores):
        for t in core:
            rows.append(j)
            cols.append(index.setdefault(t, len(index)))
    C = sparse.csr_matrix((np.ones(len(rows), dtype=np.int32), (rows, cols)), shape=(P, len(index)))
    size = np.asarray(C.sum(axis=1)).ravel()
    CT = C.T.tocsc()
    found = []
    for start in range(0, P, 512):   # a block of phrases at a time keeps the words-in-common matrix small
        shared = (C[start:start + 512] @ CT).tocoo()   # (c, f): words in common
        c, f = shared.row.astype(np.int64) + start, shared.col.astype(np.int64)
        keep = (shared.data == size[c]) & (size[f] > size[c])
        found.append(f[keep] * P + c[keep])
    return np.sort(np.concatenate(found))
