"""The instrument definition model: what one ``instruments/<id>.v<version>.yaml`` file may say.

The model is strict (unknown keys are errors) so a typo in a definition is caught before a workbook
is ever sent. Structural checks live here; checks that need the whole definition (duplicate ids,
choice-list references, SPSS names) live in :mod:`trust_survey.instruments.loader`.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ItemType = Literal[
    "text", "long_text", "integer", "decimal", "single_choice", "multiple_choice",
    "yes_no", "likert", "date", "email", "ods_code", "postcode",
]
Audience = Literal["trust", "icb", "individual"]
Severity = Literal["error", "warning"]
Measure = Literal["nominal", "ordinal", "scale"]

ID_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
CHOICE_TYPES = {"single_choice", "multiple_choice", "yes_no", "likert"}
NUMERIC_TYPES = {"integer", "decimal"}

#: Built-in choice lists every instrument may use without defining them.
BUILTIN_LISTS: dict[str, list[dict]] = {
    "yes_no": [{"value": 1, "label": "Yes", "code": "yes"}, {"value": 0, "label": "No", "code": "no"}],
    "likert5": [
        {"value": 1, "label": "Strongly disagree", "code": "sd"},
        {"value": 2, "label": "Disagree", "code": "d"},
        {"value": 3, "label": "Neither agree nor disagree", "code": "n"},
        {"value": 4, "label": "Agree", "code": "a"},
        {"value": 5, "label": "Strongly agree", "code": "sa"},
    ],
}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Choice(Strict):
    value: int
    label: str = Field(min_length=1, max_length=120)
    code: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9_]{0,11}$")
    missing: bool = False  # a user-missing code in SPSS ("Don't know", "Prefer not to say")

    @property
    def key(self) -> str:
        return self.code or str(self.value)


class MissingCode(Strict):
    value: int
    label: str


class Item(Strict):
    id: str = Field(pattern=ID_PATTERN)
    label: str = Field(min_length=1, max_length=250)
    type: ItemType
    required: bool = False
    help: str | None = None
    choices: str | None = None
    min: float | None = None
    max: float | None = None
    min_date: dt.date | None = None
    max_date: dt.date | None = None
    max_length: int | None = Field(default=None, ge=1, le=32767)
    reverse: bool = False
    spss_name: str | None = None
    spss_label: str | None = Field(default=None, max_length=256)
    measure: Measure | None = None
    personal: bool = False  # names, emails: never copied into analysis tables

    @model_validator(mode="after")
    def _consistent(self) -> "Item":
        problems = []
        if self.type in ("single_choice", "multiple_choice") and not self.choices:
            problems.append(f"type '{self.type}' needs 'choices' (the name of a choice list)")
        if self.choices and self.type not in CHOICE_TYPES:
            problems.append(f"'choices' only applies to choice types, not '{self.type}'")
        if (self.min is not None or self.max is not None) and self.type not in NUMERIC_TYPES:
            problems.append(f"'min'/'max' only apply to integer and decimal items, not '{self.type}'")
        if self.min is not None and self.max is not None and self.min > self.max:
            problems.append(f"'min' ({self.min}) is above 'max' ({self.max})")
        if (self.min_date or self.max_date) and self.type != "date":
            problems.append("'min_date'/'max_date' only apply to date items")
        if self.reverse and self.type != "likert":
            problems.append("'reverse' only applies to likert items")
        if self.max_length and self.type not in ("text", "long_text"):
            problems.append("'max_length' only applies to text items")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def choice_list(self) -> str | None:
        """The choice list this item draws from (built-in for yes/no and Likert unless overridden)."""
        if self.choices:
            return self.choices
        return {"yes_no": "yes_no", "likert": "likert5"}.get(self.type)

    @property
    def var_name(self) -> str:
        return self.spss_name or self.id

    @property
    def var_label(self) -> str:
        return (self.spss_label or self.label)[:256]

    @property
    def default_measure(self) -> Measure:
        if self.measure:
            return self.measure
        if self.type in NUMERIC_TYPES:
            return "scale"
        if self.type == "likert":
            return "ordinal"
        return "nominal"


class CrossRule(Strict):
    """A cross-field rule: ``sum(left) <op> sum(right)``.

    In a table rule (``table`` set) the names are that table's column ids, checked row by row.
    Otherwise they are form item ids, or ``sum:<table>.<column>`` for a table column's total.
    """

    id: str = Field(pattern=ID_PATTERN)
    table: str | None = None
    left: list[str] = Field(min_length=1)
    op: Literal["<=", "<", ">=", ">", "=="]
    right: list[str] = Field(min_length=1)
    severity: Severity = "error"
    message: str = Field(min_length=1)


class Table(Strict):
    id: str = Field(pattern=ID_PATTERN)
    max_rows: int = Field(ge=1, le=1000)
    columns: list[Item] = Field(min_length=1)
    unique: list[str] = Field(default_factory=list)  # columns whose combination must not repeat
    rules: list[CrossRule] = Field(default_factory=list)


class Section(Strict):
    id: str = Field(pattern=ID_PATTERN)
    title: str = Field(min_length=1, max_length=120)
    sheet: str | None = Field(default=None, max_length=31)
    help: str | None = None
    items: list[Item] = Field(default_factory=list)
    table: Table | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> "Section":
        if bool(self.items) == bool(self.table):
            raise ValueError("a section has either 'items' or one 'table', not both and not neither")
        return self

    @property
    def sheet_name(self) -> str:
        return self.sheet or self.title[:31]


class Scale(Strict):
    """A scale score: the mean of its Likert items after reverse keying."""

    id: str = Field(pattern=ID_PATTERN)
    label: str
    items: list[str] = Field(min_length=2)
    min_answered: int = Field(ge=1)
    higher_means: str | None = None


class Crosswalk(Strict):
    """How an item of this version relates to the previous version, for trends across rounds."""

    item: str
    previous_item: str | None = None
    continues: bool
    note: str


class Instrument(Strict):
    id: str = Field(pattern=ID_PATTERN)
    version: int = Field(ge=1)
    title: str = Field(min_length=1, max_length=120)
    audience: list[Audience] = Field(min_length=1)
    description: str
    contact_email: str | None = None
    instructions: list[str] = Field(default_factory=list)
    id_item: str = "org_code"
    choice_lists: dict[str, list[Choice]] = Field(default_factory=dict)
    spss_missing: list[MissingCode] = Field(default_factory=lambda: [MissingCode(value=-9, label="Not answered")])
    sections: list[Section] = Field(min_length=1)
    rules: list[CrossRule] = Field(default_factory=list)
    scales: list[Scale] = Field(default_factory=list)
    crosswalk: list[Crosswalk] = Field(default_factory=list)

    # ---- derived views -------------------------------------------------------------------------
    @property
    def key(self) -> str:
        return f"{self.id}.v{self.version}"

    def lists(self) -> dict[str, list[Choice]]:
        """Every choice list this instrument can use, built-in ones included."""
        merged = {name: [Choice(**c) for c in choices] for name, choices in BUILTIN_LISTS.items()}
        merged.update(self.choice_lists)
        return merged

    def choices_for(self, item: Item) -> list[Choice]:
        name = item.choice_list
        return self.lists()[name] if name else []

    def form_items(self) -> list[tuple[Section, Item]]:
        return [(s, i) for s in self.sections for i in s.items]

    def tables(self) -> list[tuple[Section, Table]]:
        return [(s, s.table) for s in self.sections if s.table]

    def item(self, item_id: str) -> Item:
        for item in self.all_items():
            if item.id == item_id:
                return item
        raise KeyError(item_id)

    def all_items(self) -> list[Item]:
        out: list[Item] = []
        for section in self.sections:
            out.extend(section.items)
            if section.table:
                out.extend(section.table.columns)
        return out

    def fields(self) -> list["AnswerField"]:
        """The atomic answer cells: one per item, or one per option of a multiple-choice item."""
        return list(self.answer_fields)

    @cached_property
    def answer_fields(self) -> tuple["AnswerField", ...]:
        """:meth:`fields`, built once: the definition is frozen, and ingest asks for them per respondent."""
        out: list[AnswerField] = []
        for section in self.sections:
            table_id = section.table.id if section.table else None
            items = section.table.columns if section.table else section.items
            for item in items:
                if item.type == "multiple_choice":
                    for choice in self.choices_for(item):
                        out.append(AnswerField(
                            field_id=f"{item.id}__{choice.key}", item=item, option=choice,
                            section=section, table=table_id,
                        ))
                else:
                    out.append(AnswerField(field_id=item.id, item=item, option=None, section=section, table=table_id))
        return tuple(out)

    def definition_hash(self) -> str:
        """A hash of the parsed definition: stable under comments and whitespace, changes with content."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class AnswerField:
    """One answer cell's meaning: the item it belongs to and, for multiple choice, the option."""

    field_id: str
    item: Item
    option: Choice | None
    section: Section
    table: str | None

    @cached_property
    def var_name(self) -> str:
        if self.option is None:
            return self.item.var_name
        return f"{self.item.var_name}_{self.option.key}"

    @property
    def label(self) -> str:
        if self.option is None:
            return self.item.label
        return f"{self.item.label}: {self.option.label}"

    @property
    def var_label(self) -> str:
        if self.option is None:
            return self.item.var_label
        return f"{self.item.var_label}: {self.option.label}"[:256]

    @property
    def type(self) -> str:
        return "yes_no" if self.option is not None else self.item.type

    @property
    def choice_list(self) -> str | None:
        return "yes_no" if self.option is not None else self.item.choice_list
