"""Reference geography of the English NHS, keyed by vintage, and loaders for the official files users
refresh each year (ODS ``etr.csv``/``ets.csv``, the ONS Postcode Directory). No network at run time:
the shipped tables and boundaries are in ``trust_survey/data/reference`` with their sources.

Below every stage that places an organisation. Stages of a refresh: :mod:`.ods` and :mod:`.onspd` read the
official files -> :mod:`.ons_icbs` (ICB names and codes) -> :mod:`.refresh` writes a new vintage;
:mod:`.reference` reads a vintage and :mod:`.geocode` places postcodes and organisations on it."""
from trust_survey.geography.geocode import geocode_postcodes
from trust_survey.geography.ods import (ETR_COLUMNS, ETS_COLUMNS, current_trusts, england_only, load_etr,
                                        load_ets, open_on)
from trust_survey.geography.onspd import is_postcode, load_onspd, normalise_postcode, onspd_columns
from trust_survey.geography.reference import (ICB_VINTAGES, boundaries, check_vintage, icb_crosswalk,
                                              icb_vintage_for, load_genomic_laboratory_hubs, load_icbs,
                                              load_outcode_centroids, load_regions, load_trust_successors,
                                              load_trusts, resolve_successor, successor_chain)

__all__ = [
    "ETR_COLUMNS", "ETS_COLUMNS", "ICB_VINTAGES", "boundaries", "check_vintage", "current_trusts",
    "england_only", "geocode_postcodes", "icb_crosswalk", "icb_vintage_for", "is_postcode", "load_etr",
    "load_ets", "load_genomic_laboratory_hubs", "load_icbs", "load_onspd", "load_outcode_centroids",
    "load_regions", "load_trust_successors", "load_trusts", "normalise_postcode", "onspd_columns", "open_on",
    "resolve_successor", "successor_chain",
]
