"""Helpers for the web worker's tests (the pytest fixtures are in fixtures.py, loaded with pytest_plugins)."""

from workforce.core.config import Settings
from workforce.workers.tools import ToolContext
from workforce.workers.web.config import WebSettings

from .server import StandIn

MB = 1024 * 1024


def web_settings(site: StandIn, **overrides) -> WebSettings:
    values = {
        "net_allowlist": f"127.0.0.1:{site.port}",
        "fetch_max_bytes": 1 * MB,
        "fetch_timeout_s": 4,
        "browser_timeout_s": 15,
        "max_text_chars": 4000,
    }
    values.update(overrides)
    return WebSettings(**values)


def make_ctx(tmp_path, attempt: str = "t1/s1/1", settings: Settings | None = None) -> ToolContext:
    task, subtask, _ = attempt.split("/")
    return ToolContext(
        task_id=task,
        subtask_id=subtask,
        attempt_id=attempt,
        worker_type="web",
        settings=settings or Settings(),
        workdir=tmp_path,
    )


def pdf_bytes() -> bytes:
    """A real PDF (written by fpdf2, from the document extra)."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.multi_cell(0, 8, "Annual report 2023. The museum received 1,234,567 visitors in 2023.")
    return bytes(pdf.output())
