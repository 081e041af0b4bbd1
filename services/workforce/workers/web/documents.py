"""Documents found on the web (PDF, Office files, spreadsheets, archives, media) go to the document tools.

The file is stored in the object store (it becomes one of the subtask's produced files, so worker-document can
be given it), then read with worker-document's `extract_bytes` when that package is installed in this image
(`pip install .[web,document]`); otherwise the result says to pass the stored file to worker-document.
"""

import asyncio
import re
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

from ..tools import ToolContext
from .fetch import Fetched

DOCUMENT_MAGIC = (b"%PDF-", b"PK\x03\x04", b"\xd0\xcf\x11\xe0", b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"ID3",
                  b"OggS", b"fLaC", b"RIFF")
TEXT_LIKE = ("text/", "application/json", "application/xml", "application/ld+json", "application/javascript")
HTML_TYPES = ("text/html", "application/xhtml+xml")


def kind_of(fetched: Fetched) -> str:
    """'html', 'text' or 'document'."""
    media, head = fetched.media_type, fetched.body[:16]
    if head.startswith(DOCUMENT_MAGIC) or head[4:8] == b"ftyp":   # ftyp: MP4 / MOV / M4A
        return "document"
    if media in HTML_TYPES:
        return "html"
    if media.startswith(TEXT_LIKE):
        return "text"
    if not media or media == "application/octet-stream":
        sample = fetched.body[:2048].lower()
        if b"<html" in sample or b"<!doctype html" in sample:
            return "html"
        if b"\x00" not in sample:
            return "text"
    return "document"


def file_name(fetched: Fetched) -> str:
    disposition = fetched.headers.get("content-disposition", "")
    match = re.search(r'filename\*?=(?:UTF-8\'\')?"?([^";]+)"?', disposition, re.IGNORECASE)
    name = unquote(match.group(1)) if match else PurePosixPath(unquote(urlsplit(fetched.final_url).path)).name
    return PurePosixPath(name).name or "download"


async def read_document(ctx: ToolContext, fetched: Fetched) -> str:
    name = file_name(fetched)
    ref = await ctx.save_file(name, fetched.body, fetched.media_type or "application/octet-stream")
    where = f"saved with the task's files as {ref.name!r}"
    try:
        from ..document.extract import DocumentError, extract_bytes
    except ImportError:
        return (f"{fetched.final_url} is a document ({fetched.media_type or 'unknown type'}, {len(fetched.body)} "
                f"bytes), {where}. This web worker cannot read documents: pass the file to worker-document.")
    try:
        extracted = await asyncio.to_thread(extract_bytes, name, fetched.body, fetched.media_type)
    except DocumentError as exc:
        return f"{fetched.final_url} is a document {where}, but it cannot be read: {exc}"
    return f"Document {fetched.final_url} ({where}), read with the document tools:\n\n{extracted.render()}"
