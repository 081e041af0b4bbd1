"""PDF: text per page (pypdf), ruled tables (pdfplumber); encrypted files refused unless the password is
empty."""

import io
import logging

from .model import DocumentError, Extracted, Table

log = logging.getLogger(__name__)
logging.getLogger("pypdf").setLevel(logging.ERROR)
logging.getLogger("pdfminer").setLevel(logging.ERROR)


def extract_pdf(name: str, data: bytes, max_pages: int, table_pages: int, max_rows: int) -> Extracted:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError(name, "the PDF is encrypted (password protected); its text cannot be read")
        pages = reader.pages
        count = len(pages)
    except DocumentError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise DocumentError(name, f"not a readable PDF (corrupt or truncated): {exc}") from exc
    except Exception as exc:  # pypdf raises many types on damaged input; all mean the same to the user
        if "crypt" in str(exc).lower() or "AES" in str(exc):
            raise DocumentError(name, f"the PDF is encrypted and cannot be decrypted here: {exc}") from exc
        raise DocumentError(name, f"not a readable PDF: {type(exc).__name__}: {exc}") from exc

    out = Extracted(name=name, kind="text", format="pdf", metadata={"pages": count})
    texts = []
    for number, page in enumerate(pages[:max_pages], 1):
        try:
            texts.append(f"--- page {number} ---\n{(page.extract_text() or '').strip()}")
        except Exception as exc:
            out.warnings.append(f"page {number} unreadable: {exc}")
    if count > max_pages:
        out.warnings.append(f"only the first {max_pages} of {count} pages were read")
    out.text = "\n\n".join(texts)
    if not any(t.split("\n", 1)[1] for t in texts if "\n" in t):
        out.warnings.append("no text layer found (a scanned PDF?); ask about its pages as images")
    out.tables = _tables(name, data, min(count, table_pages), max_rows, out.warnings)
    return out


def _tables(name: str, data: bytes, pages: int, max_rows: int, warnings: list[str]) -> list[Table]:
    import pdfplumber

    tables: list[Table] = []
    try:
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            for number, page in enumerate(pdf.pages[:pages], 1):
                for index, rows in enumerate(page.extract_tables(), 1):
                    rows = [[c or "" for c in row] for row in rows[:max_rows]]
                    if len(rows) >= 2:
                        tables.append(Table(f"page {number} #{index}", rows))
    except Exception as exc:
        warnings.append(f"tables not extracted: {type(exc).__name__}: {exc}")
    return tables
