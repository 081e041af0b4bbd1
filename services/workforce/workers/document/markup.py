"""Text formats: plain text / Markdown, HTML (trafilatura main text, lxml tables), XML, JSON, JSON Lines."""

import json

from .model import DocumentError, Extracted, Table


def decode_text(name: str, data: bytes) -> tuple[str, str]:
    """Bytes → str with the detected encoding; binary data is refused rather than shown as mojibake."""
    if b"\x00" not in data[:8192]:
        try:
            return data.decode("utf-8-sig"), "utf-8"
        except UnicodeDecodeError:
            pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None or (b"\x00" in data[:8192] and not best.encoding.startswith("utf_16")):
        raise DocumentError(name, "binary data, not text in any known encoding")
    return str(best), best.encoding


def extract_text(name: str, data: bytes, fmt: str = "txt") -> Extracted:
    text, encoding = decode_text(name, data)
    return Extracted(name=name, kind="text", format=fmt, text=text, metadata={"encoding": encoding})


def extract_html(name: str, data: bytes, max_rows: int) -> Extracted:
    import lxml.html
    import trafilatura

    text, encoding = decode_text(name, data)
    try:
        root = lxml.html.fromstring(text.encode("utf-8"), parser=lxml.html.HTMLParser(encoding="utf-8"))
    except Exception as exc:
        raise DocumentError(name, f"not readable HTML: {exc}") from exc
    out = Extracted(name=name, kind="text", format="html", metadata={"encoding": encoding})
    title = root.findtext(".//title")
    if title and title.strip():
        out.metadata["title"] = title.strip()
    main = trafilatura.extract(text, include_tables=False, include_links=False, favor_recall=True)
    # Short pages (or ones trafilatura finds no article in) are better read whole.
    out.text = main if main and len(main) > 200 else " ".join(root.text_content().split())
    for index, table in enumerate(root.iter("table"), 1):
        rows = []
        for tr in table.iter("tr"):
            cells = [" ".join(c.text_content().split()) for c in tr if c.tag in ("td", "th")]
            if cells:
                rows.append(cells)
        if rows:
            caption = table.findtext("caption")
            out.tables.append(
                Table(caption.strip() if caption and caption.strip() else str(index), rows[:max_rows])
            )
    return out


def extract_xml(name: str, data: bytes) -> Extracted:
    from lxml import etree

    # No entity expansion and no network: XML bombs and external entities are refused.
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_blank_text=True)
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise DocumentError(name, f"malformed XML: {exc}") from exc
    text = etree.tostring(root, pretty_print=True, encoding="unicode")
    return Extracted(
        name=name,
        kind="text",
        format="xml",
        text=text,
        metadata={"root": etree.QName(root).localname, "elements": sum(1 for _ in root.iter())},
    )


def _records_table(name: str, records: list, max_rows: int) -> list[Table]:
    """A list of flat objects is a table too."""
    if not records or not all(isinstance(r, dict) for r in records):
        return []
    if any(isinstance(v, (dict, list)) for r in records[:100] for v in r.values()):
        return []
    columns: list[str] = []
    for r in records:
        columns += [k for k in r if k not in columns]
    rows = [columns] + [
        ["" if r.get(c) is None else str(r.get(c)) for c in columns] for r in records[:max_rows]
    ]
    return [Table(name, rows)]


def extract_json(name: str, data: bytes, max_rows: int) -> Extracted:
    text, _ = decode_text(name, data)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DocumentError(
            name, f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from exc
    out = Extracted(
        name=name,
        kind="text",
        format="json",
        text=json.dumps(value, indent=2, ensure_ascii=False),
        metadata={"top_level": type(value).__name__},
    )
    if isinstance(value, list):
        out.tables = _records_table(name, value, max_rows)
    return out


def extract_jsonl(name: str, data: bytes, max_rows: int) -> Extracted:
    text, _ = decode_text(name, data)
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise DocumentError(name, f"malformed JSON Lines: line {number}: {exc.msg}") from exc
    out = Extracted(
        name=name,
        kind="text",
        format="jsonl",
        metadata={"records": len(records)},
        text="\n".join(json.dumps(r, ensure_ascii=False) for r in records),
    )
    out.tables = _records_table(name, records, max_rows)
    return out
