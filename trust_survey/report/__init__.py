"""The review-cycle report: one self-contained HTML page and an Excel workbook of the same tables.

Stages: :mod:`.sources` reads the store (the only part that does), :mod:`.tables` builds every table
once as DataFrames, :mod:`.charts` draws inline SVG from those tables, :mod:`.render` writes the page
and the workbook from them, and :mod:`.orchestrate` runs the lot for ``trust-survey report``.
"""
from trust_survey.report.orchestrate import ReportResult, report_paths, run_report

__all__ = ["ReportResult", "report_paths", "run_report"]
