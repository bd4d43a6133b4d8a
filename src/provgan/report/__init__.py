"""The run report: one static HTML page per run (``provgan report``).

:mod:`~provgan.report.run_folder` reads the run folder, :mod:`~provgan.report.curves` draws the
training curves, :mod:`~provgan.report.page` renders the HTML and :mod:`~provgan.report.build`
writes page and assets atomically; :mod:`~provgan.report.cli` is the command.
"""

from provgan.report.build import ReportResult, build_report
from provgan.report.cli import report

__all__ = ["ReportResult", "build_report", "report"]
