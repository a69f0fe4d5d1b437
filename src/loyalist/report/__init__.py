"""The analyst's report: every result the store holds (data quality, segments, churn, CLV,
plan, forecast, recommendations) as one self-contained HTML page, plus BI-ready exports.

:func:`collect` reads the store into plain data, :func:`draw_all` draws the pictures,
:func:`render_html` builds the page and :func:`write_report` writes the files;
:func:`loyalist.pipeline.report` runs them in order.
"""

from loyalist.report.data import SECTIONS, Report, collect
from loyalist.report.files import read_train_metrics, write_report
from loyalist.report.html import render_html
from loyalist.report.plots import draw_all

__all__ = ["SECTIONS", "Report", "collect", "draw_all", "read_train_metrics", "render_html",
           "write_report"]
