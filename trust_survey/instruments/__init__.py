"""Instrument definitions (define, the pipeline's first stage).

Stages: :mod:`.model` (what a definition may say) -> :mod:`.loader` (the strict YAML loader and the
registry of every instrument and version) -> :mod:`.layout` (where each answer sits in a workbook).
"""
from trust_survey.instruments.loader import Registry, load_instrument_file, load_registry, parse_instrument
from trust_survey.instruments.model import AnswerField, Choice, Instrument, Item, Section, Table

__all__ = [
    "AnswerField", "Choice", "Instrument", "Item", "Registry", "Section", "Table",
    "load_instrument_file", "load_registry", "parse_instrument",
]
