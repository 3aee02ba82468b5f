"""The commissioners' offline map, the last commissioning stage ("mapping" means a platform mapping).

Stages: :mod:`.build` draws the map from scored departments and demand -> :mod:`.offline` makes it
self-contained (assets inlined, no request leaves the page).
"""
from trust_survey.maps.build import build_map
from trust_survey.maps.offline import OfflineError, assert_offline, offline_problems

__all__ = ["OfflineError", "assert_offline", "build_map", "offline_problems"]
