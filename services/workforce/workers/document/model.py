"""What an extraction yields (text, tables kept as tables, metadata) and how it fails (DocumentError)."""

from dataclasses import dataclass, field


class DocumentError(Exception):
    """A file that cannot be read (corrupt, encrypted, unsupported, over a limit): its name and the reason."""

    def __init__(self, name: str, reason: str):
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


@dataclass
class Table:
    """One table: rows of cell strings, the first row usually the header."""

    name: str
    rows: list[list[str]]

    def to_markdown(self, max_rows: int = 200) -> str:
        if not self.rows:
            return f"Table {self.name}: (empty)"
        width = max(len(r) for r in self.rows)
        rows = [[_cell(c) for c in r] + [""] * (width - len(r)) for r in self.rows[: max_rows + 1]]
        lines = [
            f"Table {self.name} ({len(self.rows)} rows × {width} columns):",
            "| " + " | ".join(rows[0]) + " |",
            "|" + "---|" * width,
        ]
        lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
        if len(self.rows) > max_rows + 1:
            lines.append(f"… {len(self.rows) - max_rows - 1} more rows")
        return "\n".join(lines)


def _cell(value) -> str:
    return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")


@dataclass
class Extracted:
    """The content of one file. `kind`: text, image, audio or video (media carry metadata, not text)."""

    name: str
    kind: str
    format: str
    text: str = ""
    tables: list[Table] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    children: list["Extracted"] = field(default_factory=list)  # members of an archive

    def render(self) -> str:
        """Everything as one text for a model: the text, then each table as Markdown, then archive members."""
        parts = []
        if self.metadata:
            meta = ", ".join(f"{k}={v}" for k, v in self.metadata.items())
            parts.append(f"[{self.name}: {self.format}; {meta}]")
        if self.text:
            parts.append(self.text)
        parts += [t.to_markdown() for t in self.tables]
        for child in self.children:
            parts.append(f"--- member {child.name} ---\n{child.render()}")
        if self.warnings:
            parts.append("Warnings: " + "; ".join(self.warnings))
        return "\n\n".join(parts)
