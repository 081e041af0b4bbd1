"""ZIP archives, read recursively under limits that defuse zip bombs.

Limits (DocumentSettings): members over all nesting levels, total uncompressed bytes, the compression ratio of
each member, nesting depth, and the size of one member. Sizes are counted while decompressing, so a header
that lies about its size does not get past them.
"""

import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

from .model import DocumentError, Extracted

CHUNK = 1 << 20


@dataclass
class ZipBudget:
    max_members: int
    max_total_bytes: int
    max_ratio: float
    max_depth: int
    max_member_bytes: int
    members: int = 0
    total_bytes: int = 0


def _open(name: str, data: bytes) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise DocumentError(name, f"not a readable ZIP archive (corrupt or truncated): {exc}") from exc


def read_member(archive: str, zf: zipfile.ZipFile, info: zipfile.ZipInfo, budget: ZipBudget) -> bytes:
    label = f"{archive}/{info.filename}"
    if info.flag_bits & 0x1:
        raise DocumentError(label, "the archive member is encrypted (password protected)")
    if info.file_size > budget.max_member_bytes:
        raise DocumentError(
            label, f"member of {info.file_size} bytes exceeds the limit of {budget.max_member_bytes}"
        )
    compressed = max(info.compress_size, 1)
    chunks, size = [], 0
    try:
        with zf.open(info) as stream:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > budget.max_member_bytes:
                    raise DocumentError(label, f"member exceeds the limit of {budget.max_member_bytes} bytes")
                if size > 1 << 20 and size / compressed > budget.max_ratio:
                    raise DocumentError(
                        label, f"compression ratio above {budget.max_ratio:g}:1 (a zip bomb?)"
                    )
                if budget.total_bytes + size > budget.max_total_bytes:
                    raise DocumentError(
                        label, f"the archive expands past {budget.max_total_bytes} bytes (a zip bomb?)"
                    )
                chunks.append(chunk)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise DocumentError(label, f"corrupt archive member: {exc}") from exc
    budget.total_bytes += size
    return b"".join(chunks)


def extract_zip(
    name: str, data: bytes, budget: ZipBudget, depth: int, extract: Callable[[str, bytes, int], Extracted]
) -> Extracted:
    if depth > budget.max_depth:
        raise DocumentError(name, f"archives nested deeper than {budget.max_depth} levels")
    zf = _open(name, data)
    out = Extracted(name=name, kind="text", format="zip")
    files = [i for i in zf.infolist() if not i.is_dir()]
    listing = []
    for info in files:
        budget.members += 1
        if budget.members > budget.max_members:
            raise DocumentError(name, f"more than {budget.max_members} archive members in all (a zip bomb?)")
        listing.append(f"{info.filename} ({info.file_size} bytes)")
        try:
            content = read_member(name, zf, info, budget)
            out.children.append(extract(f"{name}/{info.filename}", content, depth + 1))
        except DocumentError as exc:
            if "zip bomb" in exc.reason or "nested deeper" in exc.reason:
                raise
            out.warnings.append(str(exc))
    out.metadata = {"members": len(files)}
    out.text = "Archive members:\n" + "\n".join(listing)
    return out


def open_member(name: str, data: bytes, path: str, budget: ZipBudget) -> tuple[str, bytes]:
    """The bytes of `path` inside the archive (nested archives: "inner.zip/dir/file.pdf")."""
    zf = _open(name, data)
    names = {i.filename: i for i in zf.infolist() if not i.is_dir()}
    if path in names:
        return f"{name}/{path}", read_member(name, zf, names[path], budget)
    for member, info in names.items():
        if member.lower().endswith(".zip") and path.startswith(member + "/"):
            inner = read_member(name, zf, info, budget)
            return open_member(f"{name}/{member}", inner, path[len(member) + 1 :], budget)
    raise DocumentError(name, f"no member {path!r} in the archive; members: {', '.join(list(names)[:50])}")
