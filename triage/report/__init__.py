"""The report stage: `Queue` in; queue.json, queue.md, queue.html and a terminal table out.

All four read the same queue-level view (`summary.queue_view`) and escape PR-supplied text,
which is untrusted, for their medium. Only `write_reports` touches the file system.
"""

from triage.report.html import render_html
from triage.report.json_report import SCHEMA_VERSION, dumps, load_schema, to_json
from triage.report.markdown import render_item_markdown, render_markdown
from triage.report.summary import QueueView, queue_view
from triage.report.terminal import print_table
from triage.report.writer import write_reports

__all__ = [
    "SCHEMA_VERSION",
    "QueueView",
    "dumps",
    "load_schema",
    "print_table",
    "queue_view",
    "render_html",
    "render_item_markdown",
    "render_markdown",
    "to_json",
    "write_reports",
]
