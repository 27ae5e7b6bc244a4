"""The self-contained HTML report: ``page`` assembles it, ``figures`` builds the
plotly figures, ``html`` writes the markup."""

from gradstep.report.page import (
    ReportInput,
    build_report,
    demo_report_input,
    run_report_input,
    write_demo_report,
    write_report,
    write_run_report,
)

__all__ = [
    "ReportInput",
    "build_report",
    "demo_report_input",
    "run_report_input",
    "write_demo_report",
    "write_report",
    "write_run_report",
]
