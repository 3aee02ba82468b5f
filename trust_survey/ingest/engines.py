"""The engines that run a run's column checks, and the plumbing that makes Great Expectations affordable.

:class:`PandasEngine` runs the checks of :mod:`.validate` vectorised in pandas; :class:`GxEngine` runs the
same checks in Great Expectations 1.x, imported only here (:func:`import_gx`, with analytics off and the
modules GX never needs for our expectations loading on first use). Large check tables are split over
forked processes. :func:`make_engine` picks one by name (``ingest --engine gx|pandas``).
"""
from __future__ import annotations

import importlib
import multiprocessing as mp
import os
import re
import sys
import types
from typing import Callable

import pandas as pd

from trust_survey.ingest.validate import Check


class PandasEngine:
    name = "pandas"

    def run(self, suite: str, frame: pd.DataFrame, checks: list[Check]) -> list[tuple[Check, list[int]]]:
        out = []
        for check in checks:
            col = frame[check.column]
            if check.kind == "not_null":
                col = col[frame["required"]]
            present = col.notna()
            if check.kind == "not_null":
                bad = ~present
            elif check.kind == "in_set":
                bad = present & ~col.isin(list(check.params))
            elif check.kind in ("at_least", "at_most"):
                bound = frame[check.params[0]]
                bad = present & bound.notna() & ((col < bound) if check.kind == "at_least" else (col > bound))
            elif check.kind == "regex":
                bad = present & ~col.astype(str).str.contains(check.params[0], regex=True)
            elif check.kind == "length":
                lengths = col.astype(str).str.len()
                bad = present & ((lengths < check.params[0]) | (lengths > check.params[1]))
            else:
                raise ValueError(f"unknown check kind {check.kind}")
            out.append((check, [int(i) for i in col.index[bad.to_numpy()]]))
        return out


#: Modules Great Expectations imports for expectations we never use (KL divergence, KS tests and their
#: charts). They are about half of GX's import time, so they load on first use instead of at import.
DEFERRED_BY_GX = ("scipy.stats", "altair")


class _Deferred(types.ModuleType):
    """Stands in for a module in ``sys.modules`` until something reads an attribute of it, then imports
    the real module and forwards every attribute to it (import statements alone do not load it)."""

    def __getattr__(self, attr: str):
        real = self.__dict__.get("_real")
        if real is None:
            if sys.modules.get(self.__name__) is self:
                del sys.modules[self.__name__]
            real = importlib.import_module(self.__name__)
            self.__dict__["_real"] = real
        return getattr(real, attr)


def import_gx():
    """``great_expectations``, imported with analytics off and :data:`DEFERRED_BY_GX` loading on use."""
    if "great_expectations" not in sys.modules:
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
        for name in DEFERRED_BY_GX:
            if name not in sys.modules:
                sys.modules[name] = _Deferred(name)
    import great_expectations

    return great_expectations


#: Every failing row, without GX also collecting the failing values (we read them from the table).
RESULT_FORMAT = {"result_format": "COMPLETE", "exclude_unexpected_values": True, "partial_unexpected_count": 0,
                 "return_unexpected_index_query": False}


class GxEngine:
    """Great Expectations, one ephemeral context per run; one suite per instrument version, with one
    expectation per :class:`Check` (the required-answers check limited to required rows)."""

    name = "gx"

    def __init__(self) -> None:
        gx = import_gx()
        from great_expectations.data_context.types.base import (
            DataContextConfig, InMemoryStoreBackendDefaults, ProgressBarsConfig,
        )

        self.gx = gx
        self.context = gx.get_context(mode="ephemeral", project_config=DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(), analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False)))
        self.source = self.context.data_sources.add_pandas("trust_survey_ingest")
        self._definitions: dict[str, object] = {}

    @staticmethod
    def _expectation(check: Check, i: int):
        import great_expectations.expectations as gxe
        from great_expectations.expectations.row_conditions import Column

        common = {"column": check.column, "meta": {"check": i}}
        if check.kind == "not_null":
            return gxe.ExpectColumnValuesToNotBeNull(row_condition=Column("required") == True, **common)  # noqa: E712
        if check.kind == "in_set":
            return gxe.ExpectColumnValuesToBeInSet(value_set=list(check.params), **common)
        if check.kind in ("at_least", "at_most"):   # the answer is at least (at most) its field's bound
            pair = (check.column, check.params[0]) if check.kind == "at_least" else (check.params[0], check.column)
            return gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A=pair[0], column_B=pair[1], or_equal=True, ignore_row_if="either_value_is_missing",
                meta=common["meta"])
        if check.kind == "regex":
            return gxe.ExpectColumnValuesToMatchRegex(regex=check.params[0], **common)
        if check.kind == "length":
            return gxe.ExpectColumnValueLengthsToBeBetween(min_value=check.params[0], max_value=check.params[1],
                                                           **common)
        raise ValueError(f"unknown check kind {check.kind}")

    def _definition(self, suite: str, checks: list[Check]):
        if suite not in self._definitions:
            gx = self.gx
            name = re.sub(r"[^A-Za-z0-9_]", "_", suite)
            batch = self.source.add_dataframe_asset(name).add_batch_definition_whole_dataframe("all")
            expectations = [self._expectation(check, i) for i, check in enumerate(checks)]
            suite_obj = self.context.suites.add(gx.ExpectationSuite(name=name, expectations=expectations))
            self._definitions[suite] = self.context.validation_definitions.add(
                gx.ValidationDefinition(name=name, data=batch, suite=suite_obj))
        return self._definitions[suite]

    def run(self, suite: str, frame: pd.DataFrame, checks: list[Check]) -> list[tuple[Check, list[int]]]:
        """Failing rows of every check. GX's cost is mostly a fixed ~10 ms per expectation, so with a
        spare core half the checks run in a forked copy of this process meanwhile (same results; should
        the copy fail, its half runs here)."""
        if not checks or frame.empty:
            return [(check, []) for check in checks]
        frame = frame.reset_index(drop=True)
        if len(checks) < SPLIT_FROM or (os.cpu_count() or 1) < 2 or "fork" not in mp.get_all_start_methods():
            return self._run(suite, frame, checks)
        mine, theirs = checks[0::2], checks[1::2]
        try:
            other = _Forked(lambda: [positions for _, positions in self._run(f"{suite}#1", frame, theirs)])
        except OSError:   # no process to spare (a limit on processes or memory): all of it here
            return self._run(suite, frame, checks)
        try:
            out = self._run(f"{suite}#0", frame, mine)
        finally:
            found = other.result()
        if found is None or len(found) != len(theirs):
            return out + self._run(f"{suite}#1", frame, theirs)
        return out + list(zip(theirs, found))

    def _run(self, suite: str, frame: pd.DataFrame, checks: list[Check]) -> list[tuple[Check, list[int]]]:
        result = self._definition(suite, checks).run(batch_parameters={"dataframe": frame},
                                                     result_format=RESULT_FORMAT)
        out = []
        for r in result.results:
            info = r.exception_info or {}
            if info.get("raised_exception"):
                raise RuntimeError(f"Great Expectations failed on {suite}: {info.get('exception_message')}")
            check = checks[r.expectation_config.meta["check"]]
            positions = [int(i) for i in (r.result or {}).get("unexpected_index_list") or []]
            out.append((check, positions))
        return out


#: Fewer checks than this run in one process: forking would cost more than it saves.
SPLIT_FROM = 6


class _Forked:
    """Runs ``work`` in a forked copy of this process; :meth:`result` is its return value, or ``None``
    when the copy failed in any way (the caller then does the work itself)."""

    def __init__(self, work: Callable[[], object]):
        self.conn, child = mp.get_context("fork").Pipe(duplex=False)
        self.process = mp.get_context("fork").Process(target=_child, args=(child, work), daemon=True)
        self.process.start()
        child.close()

    def result(self):
        try:
            ok, value = self.conn.recv()
        except (EOFError, OSError):
            ok, value = False, None
        finally:
            self.conn.close()
            self.process.join()
        return value if ok else None


def _child(conn, work: Callable[[], object]) -> None:
    try:
        conn.send((True, work()))
    except BaseException:  # noqa: BLE001 - reported as a failure; the parent redoes the work
        conn.send((False, None))
    finally:
        conn.close()


def make_engine(name: str):
    return GxEngine() if name == "gx" else PandasEngine()
