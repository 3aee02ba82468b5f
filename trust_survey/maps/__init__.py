"""The commissioners' offline map: :func:`build_map` draws it, :mod:`.offline` makes it self-contained."""
from trust_survey.maps.build import build_map
from trust_survey.maps.offline import OfflineError, assert_offline, offline_problems

__all__ = ["OfflineError", "assert_offline", "build_map", "offline_problems"]
