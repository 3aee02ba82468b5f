"""Process plumbing for an ingest run: how many workers, a forked pool, and the collector held still.

Large runs examine files in forked worker processes (:func:`run_forked`): the workers inherit the loaded
definitions instead of pickling them, and where the system cannot fork (Windows) the caller examines in
its own process. While they work, the parent does something useful (imports Great Expectations).
:func:`gc_frozen` and :func:`gc_paused` keep the cyclic garbage collector from walking, again and again,
the many objects a run keeps alive.
"""
from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Callable, Iterator, Sequence

#: Below this many files, starting worker processes costs more than it saves.
PARALLEL_FROM = 24

_JOB: Callable[[Any], Any] | None = None


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def workers_for(count: int, engine: str, workers: int | None = None) -> tuple[int, bool]:
    """(worker processes, whether to use a pool) for ``count`` files: a large run uses up to four cores,
    one fewer while Great Expectations still has to be imported (about a second), which then happens in
    this process meanwhile, on a core of its own. ``workers`` overrides the number."""
    large = count >= PARALLEL_FROM
    loading = large and engine == "gx" and "great_expectations" not in sys.modules
    if workers is None:
        workers = max(1, min(os.cpu_count() or 1, 4) - loading) if large else 1
    return workers, workers > 1 or loading


def _run(item):
    return _JOB(item)


def run_forked(job: Callable[[Any], Any], items: Sequence, workers: int, on_result: Callable[[Any], None],
               meanwhile: Callable[[], Any] = lambda: None) -> Any:
    """Run ``job(item)`` for every item in ``workers`` forked processes, calling ``on_result`` with each
    result in order; ``meanwhile()`` runs here while the workers work, and what it returns is returned.

    The job reaches the workers through their copy of this process's memory, so it need not pickle; only
    items and results travel."""
    global _JOB
    _JOB = job
    try:
        with gc_frozen():   # forked workers then never walk (and so copy) the parent's objects when collecting
            context = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                chunk = max(1, min(8, len(items) // (workers * 4)))   # fewer round trips, still balanced
                results = pool.map(_run, items, chunksize=chunk)
                extra = meanwhile()
                for result in results:
                    on_result(result)
    finally:
        _JOB = None
    return extra


@contextlib.contextmanager
def gc_frozen() -> Iterator[None]:
    """Move every object alive now out of the cyclic collector's sight for the block (``gc.freeze``).

    Tens of thousands of examined cells stay alive for the whole run; without this, each full collection
    triggered by Great Expectations' or pandas' many small allocations walks all of them again. Left
    alone when something else has frozen objects already (its arrangement is not ours to undo).
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection for the block (``gc.disable``), when it was on.

    Examining a many-respondent export builds tens of thousands of small objects that all stay alive; the
    collector would otherwise walk every one of them again at each full collection (about an eighth of the
    time of a 15,000-respondent export). Cycles made meanwhile are collected once it is back on."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
