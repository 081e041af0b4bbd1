"""Which format a file is: its content first (magic bytes, ZIP layout), then its name, then its media type."""

import io
import zipfile
from pathlib import PurePosixPath

EXTENSIONS = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".docm": "docx",
    ".pptx": "pptx",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".xls": "xls",
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".xml": "xml",
    ".txt": "txt",
    ".md": "md",
    ".markdown": "md",
    ".rst": "txt",
    ".log": "txt",
    ".py": "txt",
    ".zip": "zip",
    ".png": "image",
    ".jpg": "image",
    ".jpeg": "image",
    ".gif": "image",
    ".webp": "image",
    ".bmp": "image",
    ".tif": "image",
    ".tiff": "image",
    ".mp3": "media",
    ".wav": "media",
    ".flac": "media",
    ".ogg": "media",
    ".oga": "media",
    ".m4a": "media",
    ".aac": "media",
    ".opus": "media",
    ".mp4": "media",
    ".mov": "media",
    ".mkv": "media",
    ".webm": "media",
    ".avi": "media",
    ".mpeg": "media",
    ".mpg": "media",
    ".doc": "legacy-doc",
    ".ppt": "legacy-ppt",
    ".odt": "odf",
    ".ods": "odf",
    ".odp": "odf",
    ".rtf": "rtf",
}

MEDIA_TYPES = {
    "application/pdf": "pdf",
    "text/csv": "csv",
    "text/tab-separated-values": "tsv",
    "text/html": "html",
    "application/json": "json",
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/xml": "xml",
    "text/xml": "xml",
    "text/plain": "txt",
    "text/markdown": "md",
    "application/zip": "zip",
    "application/vnd.ms-excel": "xls",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "pptx",
}

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*")


def _ooxml(data: bytes) -> str:
    try:
        names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return ""
    if "[Content_Types].xml" in names:
        for prefix, fmt in (("word/", "docx"), ("xl/", "xlsx"), ("ppt/", "pptx")):
            if any(n.startswith(prefix) for n in names):
                return fmt
    if "mimetype" in names:
        return "odf"
    return "zip"


def sniff(data: bytes) -> str:
    head = data[:16]
    if data[:1024].lstrip().startswith(b"%PDF") or head.startswith(b"%PDF"):
        return "pdf"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _ooxml(data)
    if head.startswith(OLE_MAGIC):
        return "ole"
    if head.startswith(IMAGE_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return "image"
    if head[:4] == b"RIFF" and head[8:12] in (b"WAVE", b"AVI "):
        return "media"
    if (
        head[4:8] == b"ftyp"
        or head.startswith((b"ID3", b"OggS", b"fLaC", b"\x1aE\xdf\xa3"))
        or head[:2] == b"\xff\xfb"
    ):
        return "media"
    return ""


def detect(name: str, data: bytes, media_type: str = "") -> str:
    """A format name: pdf, docx, xlsx, xls, pptx, csv, tsv, html, json, jsonl, xml, txt, md, zip, image,
    media, ole (an OLE container: XLS, a legacy Office file or an encrypted OOXML), or an unsupported
    family."""
    by_name = EXTENSIONS.get(PurePosixPath(name.lower()).suffix, "")
    by_type = MEDIA_TYPES.get(media_type.split(";")[0].strip().lower(), "")
    if media_type.startswith("image/"):
        by_type = "image"
    elif media_type.startswith(("audio/", "video/")):
        by_type = "media"
    sniffed = sniff(data)
    if sniffed == "ole":
        return "xls" if by_name == "xls" or by_type == "xls" else "ole"
    if sniffed == "zip" and by_name in ("docx", "xlsx", "pptx"):
        return by_name  # a zip named like OOXML but without its parts: let the reader report it as corrupt
    return sniffed or by_name or by_type or "unknown"
