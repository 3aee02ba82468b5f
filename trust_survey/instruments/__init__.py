"""Instrument definitions: the model, the strict loader, the workbook layout, and what is built from them."""
from trust_survey.instruments.loader import Registry, load_instrument_file, load_registry, parse_instrument
from trust_survey.instruments.model import AnswerField, Choice, Instrument, Item, Section, Table

__all__ = [
    "AnswerField", "Choice", "Instrument", "Item", "Registry", "Section", "Table",
    "load_instrument_file", "load_registry", "parse_instrument",
]
