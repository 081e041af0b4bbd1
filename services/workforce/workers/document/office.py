"""Word (DOCX) and PowerPoint (PPTX): paragraphs, slides, notes, and tables kept as tables."""

import io
import zipfile

from .model import DocumentError, Extracted, Table


def _open_failed(name: str, kind: str, exc: Exception) -> DocumentError:
    return DocumentError(
        name, f"not a readable {kind} file (corrupt or not really {kind}): {type(exc).__name__}: {exc}"
    )


def extract_docx(name: str, data: bytes, max_rows: int) -> Extracted:
    import docx
    from docx.table import Table as DocxTable
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise _open_failed(name, "DOCX", exc) from exc
    except Exception as exc:
        raise _open_failed(name, "DOCX", exc) from exc
    out = Extracted(name=name, kind="text", format="docx")
    lines: list[str] = []
    # Style names by id, once: Paragraph.style resolves through every style on each call (slow on long files).
    style_names = {s.style_id: s.name or "" for s in document.styles}
    for block in document.iter_inner_content():
        if isinstance(block, Paragraph):
            text = block.text.strip()
            if text:
                style = style_names.get(block._p.style or "", "")
                prefix = (
                    "#" * int(style[-1]) + " " if style.startswith("Heading") and style[-1:].isdigit() else ""
                )
                lines.append(prefix + text)
        elif isinstance(block, DocxTable):
            table = Table(
                f"{len(out.tables) + 1}",
                [[c.text.strip() for c in row.cells] for row in block.rows][:max_rows],
            )
            out.tables.append(table)
            lines.append(f"[table {table.name}]")
    for section in document.sections:
        for part, label in ((section.header, "header"), (section.footer, "footer")):
            text = "\n".join(p.text for p in part.paragraphs if p.text.strip()) if part is not None else ""
            if text and text not in lines:
                lines.append(f"[{label}] {text}")
    out.text = "\n".join(lines)
    core = document.core_properties
    out.metadata = {k: v for k, v in (("title", core.title), ("author", core.author)) if v}
    out.metadata["paragraphs"] = len(document.paragraphs)
    return out


def extract_pptx(name: str, data: bytes, max_rows: int) -> Extracted:
    from pptx import Presentation

    try:
        deck = Presentation(io.BytesIO(data))
    except Exception as exc:
        raise _open_failed(name, "PPTX", exc) from exc
    out = Extracted(name=name, kind="text", format="pptx", metadata={"slides": len(deck.slides)})
    parts = []
    for number, slide in enumerate(deck.slides, 1):
        lines = [f"--- slide {number} ---"]
        for shape in slide.shapes:
            if shape.has_text_frame and shape.text_frame.text.strip():
                lines.append(shape.text_frame.text.strip())
            if getattr(shape, "has_table", False) and shape.has_table:
                rows = [[cell.text.strip() for cell in row.cells] for row in shape.table.rows][:max_rows]
                table = Table(f"slide {number} #{len(out.tables) + 1}", rows)
                out.tables.append(table)
                lines.append(f"[table {table.name}]")
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            notes = slide.notes_slide.notes_text_frame.text.strip()
            if notes:
                lines.append(f"[notes] {notes}")
        parts.append("\n".join(lines))
    out.text = "\n\n".join(parts)
    return out
