"""Where every answer lives in a built workbook, computed from the definition alone.

The builder writes cells here, the reader reads them back from here, simulate fills them and feedback
points at them; so a layout change is made once. Form sections hold one question per row
(Ref | Question | Answer | Guidance); table sections hold one header row and ``max_rows`` input rows,
with a multiple-choice column expanded into one yes/no column per option.
"""
from __future__ import annotations

from dataclasses import dataclass

from trust_survey.common import constants as C
from trust_survey.common.cells import col_letter
from trust_survey.instruments.model import AnswerField, Instrument, Section


@dataclass(frozen=True)
class FormCell:
    field: AnswerField
    sheet: str
    row: int
    col: int = C.FORM_ANSWER_COL

    @property
    def ref(self) -> str:
        return self.field.field_id.replace("__", ".")

    @property
    def address(self) -> str:
        return f"{col_letter(self.col)}{self.row}"


@dataclass(frozen=True)
class TableColumn:
    field: AnswerField
    sheet: str
    col: int
    first_row: int
    last_row: int

    @property
    def letter(self) -> str:
        return col_letter(self.col)

    @property
    def header(self) -> str:
        return self.field.label

    def address(self, row: int) -> str:
        return f"{self.letter}{row}"

    @property
    def range(self) -> str:
        return f"{self.letter}{self.first_row}:{self.letter}{self.last_row}"


@dataclass(frozen=True)
class SheetLayout:
    section: Section
    name: str
    form: tuple[FormCell, ...] = ()
    columns: tuple[TableColumn, ...] = ()

    @property
    def is_table(self) -> bool:
        return self.section.table is not None

    @property
    def last_row(self) -> int:
        if self.is_table:
            return C.FIRST_DATA_ROW + self.section.table.max_rows - 1
        return C.FIRST_DATA_ROW + len(self.form) - 1


@dataclass(frozen=True)
class Layout:
    instrument: Instrument
    sheets: tuple[SheetLayout, ...]

    def sheet(self, section_id: str) -> SheetLayout:
        for s in self.sheets:
            if s.section.id == section_id:
                return s
        raise KeyError(section_id)

    def form_cells(self) -> list[FormCell]:
        return [c for s in self.sheets for c in s.form]

    def table_sheets(self) -> list[SheetLayout]:
        return [s for s in self.sheets if s.is_table]

    def locate(self, field_id: str) -> FormCell | TableColumn:
        for s in self.sheets:
            for c in s.form:
                if c.field.field_id == field_id:
                    return c
            for col in s.columns:
                if col.field.field_id == field_id:
                    return col
        raise KeyError(field_id)


def build_layout(inst: Instrument) -> Layout:
    """Compute the layout of a definition's workbook."""
    by_section: dict[str, list[AnswerField]] = {}
    for f in inst.fields():
        by_section.setdefault(f.section.id, []).append(f)
    sheets = []
    for section in inst.sections:
        fields = by_section.get(section.id, [])
        name = section.sheet_name
        if section.table:
            last = C.FIRST_DATA_ROW + section.table.max_rows - 1
            cols = tuple(TableColumn(f, name, i + 1, C.FIRST_DATA_ROW, last) for i, f in enumerate(fields))
            sheets.append(SheetLayout(section, name, columns=cols))
        else:
            cells = tuple(FormCell(f, name, C.FIRST_DATA_ROW + i) for i, f in enumerate(fields))
            sheets.append(SheetLayout(section, name, form=cells))
    return Layout(inst, tuple(sheets))
