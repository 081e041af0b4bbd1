"""One entry point for every format: `extract_bytes(name, data, media_type) -> Extracted`.

Other workers import it (the web worker hands over the PDFs it downloads); keep its signature stable.
Raises DocumentError (naming the file and the reason) for corrupt, encrypted, unsupported or oversize files.
"""

import io
import logging

from . import archive, markup, media, office, pdf, tables
from .config import DocumentSettings
from .detect import detect
from .model import DocumentError, Extracted, Table

log = logging.getLogger(__name__)

UNSUPPORTED = {
    "legacy-doc": "legacy Word .doc files are not supported; save it as .docx",
    "legacy-ppt": "legacy PowerPoint .ppt files are not supported; save it as .pptx",
    "odf": "OpenDocument files are not supported; save it as .docx/.xlsx/.pptx",
    "rtf": "RTF files are not supported; save it as .docx or text",
}

__all__ = ["DocumentError", "Extracted", "Table", "extract_bytes", "zip_budget"]


def zip_budget(settings: DocumentSettings) -> archive.ZipBudget:
    return archive.ZipBudget(
        max_members=settings.doc_zip_max_members,
        max_total_bytes=settings.doc_zip_max_total_bytes,
        max_ratio=settings.doc_zip_max_ratio,
        max_depth=settings.doc_zip_max_depth,
        max_member_bytes=settings.doc_max_bytes,
    )


def _encrypted_office(data: bytes) -> bool:
    """An OLE container holding an encrypted OOXML package or an encrypted legacy Office file."""
    import msoffcrypto

    try:
        return bool(msoffcrypto.OfficeFile(io.BytesIO(data)).is_encrypted())
    except Exception:  # not an Office file msoffcrypto knows: the format reader will tell
        return False


def extract_bytes(
    name: str,
    data: bytes,
    media_type: str = "",
    *,
    settings: DocumentSettings | None = None,
    _budget: archive.ZipBudget | None = None,
    _depth: int = 0,
) -> Extracted:
    """Text, tables and metadata of one file, whatever its format (see detect.py for the formats)."""
    settings = settings or DocumentSettings()
    if len(data) > settings.doc_max_bytes:
        raise DocumentError(name, f"{len(data)} bytes exceeds the limit of {settings.doc_max_bytes} bytes")
    if not data:
        raise DocumentError(name, "the file is empty")
    fmt = detect(name, data, media_type)
    rows = settings.doc_max_rows
    if fmt in ("ole", "xls") and _encrypted_office(data):
        raise DocumentError(name, "the Office file is encrypted (password protected)")
    try:
        match fmt:
            case "pdf":
                return pdf.extract_pdf(
                    name, data, settings.doc_pdf_max_pages, settings.doc_pdf_table_pages, rows
                )
            case "docx":
                return office.extract_docx(name, data, rows)
            case "pptx":
                return office.extract_pptx(name, data, rows)
            case "xlsx" | "xls":
                return tables.extract_workbook(name, data, fmt, rows)
            case "csv":
                return tables.extract_delimited(name, data, rows)
            case "tsv":
                return tables.extract_delimited(name, data, rows, "\t")
            case "html":
                return markup.extract_html(name, data, rows)
            case "xml":
                return markup.extract_xml(name, data)
            case "json":
                return markup.extract_json(name, data, rows)
            case "jsonl":
                return markup.extract_jsonl(name, data, rows)
            case "txt" | "md":
                return markup.extract_text(name, data, fmt)
            case "unknown":
                try:
                    return markup.extract_text(name, data, "txt")
                except DocumentError:
                    raise DocumentError(name, "unsupported file type: no known document format, and not text")
            case "image":
                return media.extract_image(name, data)
            case "media":
                return media.probe_media(name, data)
            case "zip":
                budget = _budget or zip_budget(settings)
                return archive.extract_zip(
                    name,
                    data,
                    budget,
                    _depth,
                    lambda n, d, depth: extract_bytes(n, d, settings=settings, _budget=budget, _depth=depth),
                )
            case "ole":
                raise DocumentError(
                    name, "a legacy (OLE) Office file other than .xls; save it as .docx/.xlsx/.pptx"
                )
            case _ if fmt in UNSUPPORTED:
                raise DocumentError(name, UNSUPPORTED[fmt])
            case _:
                raise DocumentError(name, f"unsupported file type {fmt!r}")
    except DocumentError:
        raise
    except MemoryError as exc:
        raise DocumentError(name, "the file needs more memory to read than this worker has") from exc
    except Exception as exc:  # a reader bug on odd input must be a clear failure, not a worker crash
        log.warning("extracting %s (%s) failed", name, fmt, exc_info=True)
        raise DocumentError(name, f"could not read the {fmt} file: {type(exc).__name__}: {exc}") from exc
