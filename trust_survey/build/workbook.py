"""Build one organisation's personalised return workbook from an instrument definition.

What a trust receives: a Cover sheet (title in A1, organisation and round filled in, instructions,
deadline, contact); one protected input sheet per section with a single header row and no merged
cells, where only the answer cells are unlocked; drop-downs fed from named ranges on a hidden Lists
sheet (never inline lists, which break past 255 characters); input messages and stop alerts; a Checks
sheet whose formulas count missing required answers; and a very hidden ``meta`` sheet that lets the
file identify itself when it comes back. The sheet structure is locked so sheets cannot be renamed.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill, Protection
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.workbook.protection import WorkbookProtection
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.utils import get_column_letter, quote_sheetname

from trust_survey import __version__
from trust_survey.common import constants as C
from trust_survey.instruments.layout import Layout, SheetLayout, build_layout
from trust_survey.instruments.model import AnswerField, Instrument
from trust_survey.common.safe_text import neutralise
from trust_survey.writers import save_workbook

#: Sheet protection keeps honest users from overwriting the structure; it is not a security measure.
SHEET_PASSWORD = "hee-survey"

TITLE_FONT = Font(bold=True, size=14)
HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="005EB8")  # NHS blue
LOCKED_FILL = PatternFill("solid", fgColor="E8EDEE")
INPUT_FILL = PatternFill("solid", fgColor="FFFFFF")
UNLOCKED = Protection(locked=False)
WRAP = Alignment(wrap_text=True, vertical="top")

#: Widest print area (in Excel's character widths) that fits across A4 portrait; wider sheets print landscape.
PORTRAIT_WIDTH = 100

ODS_FORMULA = 'AND(LEN({c})>=3,LEN({c})<=5,ISERROR(SEARCH(" ",{c})))'
EMAIL_FORMULA = 'AND(ISNUMBER(SEARCH("@",{c})),ISNUMBER(SEARCH(".",{c})),LEN({c})>5)'


def list_name(choice_list: str) -> str:
    return f"{C.LIST_NAME_PREFIX}{choice_list}"


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _validation_for(field: AnswerField, first_cell: str) -> DataValidation | None:
    """The data validation a field's answer cells carry, with its input message and stop alert."""
    item = field.item
    prompt = (item.help or field.label)[:255]
    kind = field.type
    dv: DataValidation
    if field.choice_list:
        dv = DataValidation(type="list", formula1=f"={list_name(field.choice_list)}", allow_blank=True,
                            error="Pick a value from the drop-down list.", errorTitle="Not in the list")
    elif kind == "integer":
        lo = _fmt(item.min if item.min is not None else -1_000_000_000)
        hi = _fmt(item.max if item.max is not None else 1_000_000_000)
        dv = DataValidation(type="whole", operator="between", formula1=lo, formula2=hi, allow_blank=True,
                            error=f"Enter a whole number from {lo} to {hi}.", errorTitle="Whole number needed")
    elif kind == "decimal":
        lo = _fmt(item.min if item.min is not None else -1e9)
        hi = _fmt(item.max if item.max is not None else 1e9)
        dv = DataValidation(type="decimal", operator="between", formula1=lo, formula2=hi, allow_blank=True,
                            error=f"Enter a number from {lo} to {hi}.", errorTitle="Number needed")
    elif kind == "date":
        lo = item.min_date or dt.date(1990, 1, 1)
        hi = item.max_date or dt.date(2100, 12, 31)
        dv = DataValidation(type="date", operator="between", allow_blank=True,
                            formula1=f"DATE({lo.year},{lo.month},{lo.day})",
                            formula2=f"DATE({hi.year},{hi.month},{hi.day})",
                            error=f"Enter a date between {lo:%d/%m/%Y} and {hi:%d/%m/%Y} (dd/mm/yyyy).",
                            errorTitle="Date needed")
    elif kind == "ods_code":
        dv = DataValidation(type="custom", formula1=ODS_FORMULA.format(c=first_cell), allow_blank=True,
                            error="Enter an ODS code of 3 to 5 letters and digits, e.g. RJ1.",
                            errorTitle="ODS code needed")
    elif kind == "email":
        dv = DataValidation(type="custom", formula1=EMAIL_FORMULA.format(c=first_cell), allow_blank=True,
                            error="Enter an email address such as name@nhs.net.", errorTitle="Email needed")
    elif kind == "postcode":
        dv = DataValidation(type="textLength", operator="between", formula1="5", formula2="8", allow_blank=True,
                            error="Enter a UK postcode such as LS1 3EX.", errorTitle="Postcode needed")
    elif kind in ("text", "long_text") and item.max_length:
        dv = DataValidation(type="textLength", operator="lessThanOrEqual", formula1=str(item.max_length),
                            allow_blank=True, error=f"Keep this to {item.max_length} characters.",
                            errorTitle="Too long")
    else:
        dv = DataValidation(type=None, allow_blank=True)
    dv.errorStyle = "stop"
    dv.showErrorMessage = kind != "text" and kind != "long_text" or bool(item.max_length)
    dv.prompt = prompt
    dv.promptTitle = field.label[:32]
    dv.showInputMessage = True
    return dv


def _number_format(field: AnswerField) -> str | None:
    return {"date": "DD/MM/YYYY", "decimal": "0.0#", "integer": "0"}.get(field.type)


def _write_lists(wb: Workbook, inst: Instrument) -> None:
    ws = wb.create_sheet(C.LISTS_SHEET)
    ws.sheet_state = "hidden"
    used = sorted({f.choice_list for f in inst.fields() if f.choice_list})
    lists = inst.lists()
    for col, name in enumerate(used, start=1):
        letter = get_column_letter(col)
        ws.cell(row=1, column=col, value=name).font = Font(bold=True)
        labels = [c.label for c in lists[name]]
        for row, label in enumerate(labels, start=2):
            ws.cell(row=row, column=col, value=neutralise(label))
        ref = f"{quote_sheetname(C.LISTS_SHEET)}!${letter}$2:${letter}${len(labels) + 1}"
        wb.defined_names[list_name(name)] = DefinedName(list_name(name), attr_text=ref)
    _protect(ws)


def _protect(ws) -> None:
    ws.protection.sheet = True
    ws.protection.password = SHEET_PASSWORD
    ws.protection.formatColumns = False  # let people widen columns to read long answers
    ws.protection.formatRows = False


def _write_cover(wb: Workbook, inst: Instrument, org: dict, round_: int, deadline: str, contact: str) -> None:
    ws = wb.active
    ws.title = C.COVER_SHEET
    ws["A1"] = f"{inst.title} {round_}"
    ws["A1"].font = TITLE_FONT
    values = {
        "org_name": org["org_name"], "org_code": org["org_code"], "round": round_,
        "instrument_id": inst.id, "instrument_version": inst.version,
        "deadline": deadline, "contact": contact,
    }
    row = C.COVER_FIRST_ROW
    individual = "individual" in inst.audience
    for label, key in (C.INDIVIDUAL_COVER_FIELDS if individual else C.COVER_FIELDS):
        ws.cell(row=row, column=1, value=label).font = Font(bold=True)
        ws.cell(row=row, column=2, value=neutralise(values[key]))
        row += 1
    row += 1
    ws.cell(row=row, column=1, value="How to complete this return").font = Font(bold=True)
    row += 1
    for line in [inst.description, *inst.instructions]:
        ws.cell(row=row, column=1, value=neutralise(line)).alignment = WRAP
        row += 1
    row += 1
    ws.cell(row=row, column=1, value="Sections").font = Font(bold=True)
    for section in inst.sections:
        row += 1
        ws.cell(row=row, column=1, value=section.sheet_name)
        ws.cell(row=row, column=2, value=neutralise(section.help or section.title)).alignment = WRAP
    ws.column_dimensions["A"].width = 28
    ws.column_dimensions["B"].width = 90
    _print_setup(ws, 2, row, one_page=True, header_row=False)
    _protect(ws)


def _print_setup(ws, last_col: int, last_row: int, *, one_page: bool = False, header_row: bool = True) -> None:
    """Print the sheet on A4, every column across one page width (so a question and its answer are
    never on separate pages), landscape when the columns are wide, the header row repeated on every
    page; ``one_page`` fits the whole sheet on a single page (the cover)."""
    width = sum(ws.column_dimensions[get_column_letter(c)].width or 9 for c in range(1, last_col + 1))
    ws.print_area = f"A1:{get_column_letter(last_col)}{max(last_row, 1)}"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape" if width > PORTRAIT_WIDTH else "portrait"
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 1 if one_page else 0   # 0: as many pages down as the rows need
    ws.print_options.horizontalCentered = True
    if header_row:
        ws.print_title_rows = f"{C.HEADER_ROW}:{C.HEADER_ROW}"
        ws.print_options.gridLines = True
    ws.page_margins.left = ws.page_margins.right = 0.5
    ws.page_margins.top = ws.page_margins.bottom = 0.6
    ws.oddFooter.center.text = "&A: page &P of &N"


def _header(ws, col: int, text: str) -> None:
    cell = ws.cell(row=C.HEADER_ROW, column=col, value=neutralise(text))
    cell.font = HEADER_FONT
    cell.fill = HEADER_FILL
    cell.alignment = Alignment(wrap_text=True, vertical="center")


def _write_form_sheet(ws, sheet: SheetLayout) -> None:
    for col, text in enumerate(C.FORM_HEADERS, start=1):
        _header(ws, col, text)
    validations: dict[tuple, DataValidation] = {}
    for cell in sheet.form:
        field = cell.field
        required = " (required)" if field.item.required else ""
        ws.cell(row=cell.row, column=C.FORM_REF_COL, value=cell.ref).fill = LOCKED_FILL
        q = ws.cell(row=cell.row, column=C.FORM_QUESTION_COL, value=neutralise(field.label + required))
        q.fill = LOCKED_FILL
        q.alignment = WRAP
        g = ws.cell(row=cell.row, column=C.FORM_GUIDANCE_COL, value=neutralise(field.item.help or ""))
        g.alignment = WRAP
        answer = ws.cell(row=cell.row, column=cell.col)
        answer.protection = UNLOCKED
        answer.fill = INPUT_FILL
        fmt = _number_format(field)
        if fmt:
            answer.number_format = fmt
        if field.type == "long_text":
            answer.alignment = WRAP
        key = (field.field_id,)  # form validations carry per-question messages
        dv = _validation_for(field, cell.address)
        validations[key] = dv
        ws.add_data_validation(dv)
        dv.add(cell.address)
    ws.column_dimensions["A"].width = 18
    ws.column_dimensions["B"].width = 60
    ws.column_dimensions["C"].width = 36
    ws.column_dimensions["D"].width = 60
    ws.freeze_panes = "A2"
    _print_setup(ws, len(C.FORM_HEADERS), sheet.last_row)


def _write_table_sheet(ws, sheet: SheetLayout) -> None:
    for column in sheet.columns:
        required = " (required)" if column.field.item.required else ""
        _header(ws, column.col, column.header + required)
        first, last = column.first_row, column.last_row
        fmt = _number_format(column.field)
        for row in range(first, last + 1):
            c = ws.cell(row=row, column=column.col)
            c.protection = UNLOCKED
            if fmt:
                c.number_format = fmt
        dv = _validation_for(column.field, f"{column.letter}{first}")
        ws.add_data_validation(dv)
        dv.add(column.range)
        width = 40 if column.field.type in ("text", "long_text") else 18
        ws.column_dimensions[column.letter].width = width
    ws.row_dimensions[C.HEADER_ROW].height = 45
    ws.freeze_panes = "A2"
    _print_setup(ws, max(c.col for c in sheet.columns), sheet.last_row)


def _ref(sheet: str, address: str) -> str:
    return f"{quote_sheetname(sheet)}!{address}"


def missing_formula(sheet: SheetLayout) -> str | None:
    """A formula counting required answers still missing on one sheet (None if nothing is required)."""
    if not sheet.is_table:
        cells = [_ref(sheet.name, c.address) for c in sheet.form if c.field.item.required]
        if not cells:
            return None
        return "=" + "+".join(f"COUNTBLANK({c})" for c in cells)
    # In a table a row counts once any cell in it is filled; its required cells must then be filled.
    started = "+".join(f"LEN({_ref(sheet.name, col.range)})" for col in sheet.columns)
    parts = [
        f"SUMPRODUCT((({started})>0)*(LEN({_ref(sheet.name, col.range)})=0))"
        for col in sheet.columns if col.field.item.required and col.field.option is None
    ]
    return "=" + "+".join(parts) if parts else None


def _write_checks(wb: Workbook, layout: Layout) -> None:
    ws = wb.create_sheet(C.CHECKS_SHEET)
    for col, text in enumerate(("Sheet", "Required answers missing", "Status"), start=1):
        _header(ws, col, text)
    row = C.FIRST_DATA_ROW
    for sheet in layout.sheets:
        formula = missing_formula(sheet)
        if formula is None:
            continue
        ws.cell(row=row, column=1, value=sheet.name)
        ws.cell(row=row, column=2, value=formula)
        ws.cell(row=row, column=3, value=f'=IF(B{row}=0,"Complete",B{row}&" missing")')
        row += 1
    ws.cell(row=row, column=1, value="Total").font = Font(bold=True)
    ws.cell(row=row, column=2, value=f"=SUM(B{C.FIRST_DATA_ROW}:B{row - 1})").font = Font(bold=True)
    ws.cell(row=row, column=3, value=f'=IF(B{row}=0,"Ready to return","Not yet complete")').font = Font(bold=True)
    ws.column_dimensions["A"].width = 32
    ws.column_dimensions["B"].width = 26
    ws.column_dimensions["C"].width = 20
    _print_setup(ws, 3, row)
    _protect(ws)


def meta_values(inst: Instrument, org: dict, round_: int, built_at: str) -> dict:
    return {
        "instrument_id": inst.id, "instrument_version": inst.version, "round": round_,
        "org_code": org["org_code"], "org_name": org["org_name"],
        "definition_sha256": inst.definition_hash(), "built_at": built_at, "toolkit_version": __version__,
    }


def _write_meta(wb: Workbook, values: dict) -> None:
    ws = wb.create_sheet(C.META_SHEET)
    for row, key in enumerate(C.META_KEYS, start=1):
        ws.cell(row=row, column=1, value=key)
        ws.cell(row=row, column=2, value=neutralise(values[key]))
    ws.sheet_state = "veryHidden"
    _protect(ws)


def build_workbook(inst: Instrument, org: dict, round_: int, path: Path, *, deadline: str = "",
                   contact: str = "", built_at: str | None = None, layout: Layout | None = None) -> None:
    """Write one organisation's return workbook to ``path``.

    ``org`` needs ``org_code`` and ``org_name``. ``layout`` may be passed in to reuse one computed
    layout across many organisations.
    """
    layout = layout or build_layout(inst)
    built_at = built_at or dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    wb = Workbook()
    _write_cover(wb, inst, org, round_, deadline, contact or inst.contact_email or "")
    for sheet in layout.sheets:
        ws = wb.create_sheet(sheet.name)
        if sheet.is_table:
            _write_table_sheet(ws, sheet)
        else:
            _write_form_sheet(ws, sheet)
        _protect(ws)
    # Pre-fill what we already know, so the return identifies itself even without the meta sheet.
    for cell in layout.form_cells():
        if cell.field.field_id == inst.id_item:
            wb[cell.sheet].cell(row=cell.row, column=cell.col, value=org["org_code"])
        elif cell.field.field_id == "org_name":
            wb[cell.sheet].cell(row=cell.row, column=cell.col, value=neutralise(org["org_name"]))
    _write_checks(wb, layout)
    _write_lists(wb, inst)
    _write_meta(wb, meta_values(inst, org, round_, built_at))
    wb.security = WorkbookProtection(lockStructure=True, workbookPassword=SHEET_PASSWORD)
    wb.active = 0
    save_workbook(wb, path, force=True, formulas_on=(C.CHECKS_SHEET,))
