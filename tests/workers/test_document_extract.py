"""extract_bytes on documents generated in every supported format, and on corrupt, encrypted and
unsupported ones."""

import pytest

from tests.workers import document_fixtures as fx
from workforce.workers.document.config import DocumentSettings
from workforce.workers.document.extract import DocumentError, extract_bytes

ROWS = fx.ROWS


def _table_values(extracted):
    return [[c.strip() for c in row] for t in extracted.tables for row in t.rows]


def _has_inventory(rows) -> bool:
    flat = [" ".join(r) for r in rows]
    return any("Widget" in r and "4" in r for r in flat) and any("Sprocket" in r and "12" in r for r in flat)


@pytest.mark.parametrize(
    "name, make, fmt",
    [
        ("report.pdf", fx.pdf, "pdf"),
        ("report.docx", fx.docx, "docx"),
        ("deck.pptx", fx.pptx, "pptx"),
        ("inventory.xlsx", fx.xlsx, "xlsx"),
        ("inventory.xls", fx.xls, "xls"),
        ("inventory.csv", fx.csv_text, "csv"),
        ("inventory.tsv", lambda: fx.csv_text("\t"), "tsv"),
        ("page.html", fx.html, "html"),
        ("records.json", fx.json_doc, "json"),
        ("records.jsonl", fx.jsonl, "jsonl"),
    ],
)
def test_tables_are_kept_as_tables(name, make, fmt):
    extracted = extract_bytes(name, make())
    assert extracted.format == fmt
    assert extracted.kind == "text"
    assert _has_inventory(_table_values(extracted)), extracted.render()
    # the header row survives as a row of its own
    assert any(row[:3] == ROWS[0] for t in extracted.tables for row in t.rows[:1])


@pytest.mark.parametrize(
    "name, make",
    [
        ("report.pdf", fx.pdf),
        ("report.docx", fx.docx),
        ("deck.pptx", fx.pptx),
        ("page.html", fx.html),
        ("notes.md", fx.markdown),
    ],
)
def test_text_is_extracted(name, make):
    text = extract_bytes(name, make()).render()
    assert "Rotterdam shipped 1234 units" in text
    assert fx.TITLE in text


def test_pdf_pages_and_owner_only_encryption():
    doc = extract_bytes("report.pdf", fx.pdf(pages=3))
    assert doc.metadata["pages"] == 3
    assert "--- page 3 ---" in doc.text and "Page 3 text." in doc.text
    # an empty user password (owner-only protection) is still readable
    assert "Rotterdam" in extract_bytes("owner.pdf", fx.owner_only_pdf()).text


def test_scanned_pdf_says_there_is_no_text():
    doc = extract_bytes("scan.pdf", fx.scanned_pdf())
    assert doc.metadata["pages"] == 1
    assert any("no text layer" in w for w in doc.warnings)


def test_docx_keeps_heading_and_order():
    text = extract_bytes("report.docx", fx.docx()).text
    assert (
        text.index("# Quarterly")
        < text.index("Rotterdam")
        < text.index("[table 1]")
        < text.index("After the")
    )


def test_pptx_slides_and_notes():
    doc = extract_bytes("deck.pptx", fx.pptx())
    assert doc.metadata["slides"] == 2
    assert "[notes] Speaker note: mention Rotterdam." in doc.text


def test_xlsx_sheets_and_dates():
    doc = extract_bytes("inventory.xlsx", fx.xlsx())
    assert [t.name for t in doc.tables] == ["Inventory", "Dates"]
    assert doc.tables[1].rows[1] == ["Audit", "2024-03-15"]
    assert doc.tables[0].rows[2] == ["Gadget", "7", "11"]


def test_html_main_text_without_boilerplate_scripts():
    doc = extract_bytes("page.html", fx.html())
    assert doc.metadata["title"] == fx.TITLE
    assert "tracking" not in doc.text
    assert doc.tables[0].name == "Inventory"


def test_json_xml_and_encodings():
    assert '"Item": "Widget"' in extract_bytes("r.json", fx.json_doc()).text
    assert extract_bytes("r.jsonl", fx.jsonl()).metadata["records"] == 3
    xml = extract_bytes("inv.xml", fx.xml())
    assert xml.metadata["root"] == "inventory" and "<quantity>12</quantity>" in xml.text
    latin = extract_bytes("menu.txt", fx.latin1_text())
    assert "un thé ou un café crème" in latin.text and "Où se trouve-t-il" in latin.text


def test_format_is_detected_from_content_not_only_name():
    assert extract_bytes("download", fx.pdf()).format == "pdf"
    assert extract_bytes("file.bin", fx.docx()).format == "docx"
    assert extract_bytes("attachment", fx.xlsx(), "application/octet-stream").format == "xlsx"
    assert extract_bytes("data", fx.csv_text(), "text/csv").format == "csv"


def test_nested_zip_is_read_recursively():
    doc = extract_bytes("bundle.zip", fx.nested_zip())
    names = [c.name for c in doc.children]
    assert names == ["bundle.zip/data/inventory.csv", "bundle.zip/inner.zip", "bundle.zip/summary.json"]
    inner = doc.children[1]
    assert [c.name for c in inner.children] == [
        "bundle.zip/inner.zip/report.docx",
        "bundle.zip/inner.zip/notes/readme.txt",
    ]
    assert "Rotterdam shipped 1234 units" in doc.render()


def test_media_files_are_probed():
    image = extract_bytes("photo.png", fx.png(64, 48))
    assert (image.kind, image.metadata["width"], image.metadata["height"]) == ("image", 64, 48)
    audio = extract_bytes("tone.mp3", fx.mp3(1.0))
    assert audio.kind == "audio" and abs(audio.metadata["duration_s"] - 1.0) < 0.2
    assert extract_bytes("tone.wav", fx.wav(0.5)).kind == "audio"
    video = extract_bytes("clip.mp4", fx.mp4(2.0))
    assert video.kind == "video" and video.metadata["width"] == 64 and video.metadata["audio_codec"] == "aac"


@pytest.mark.parametrize(
    "name, make, reason",
    [
        ("secret.pdf", fx.encrypted_pdf, "encrypted"),
        ("secret.docx", lambda: fx.encrypted_office(fx.docx()), "encrypted"),
        ("secret.xlsx", lambda: fx.encrypted_office(fx.xlsx()), "encrypted"),
        ("broken.pdf", lambda: fx.truncated(fx.pdf()), "not a readable PDF"),
        ("broken.docx", fx.garbage, "not a readable DOCX"),
        ("broken.xlsx", lambda: fx.truncated(fx.xlsx()), "not a readable XLSX"),
        ("broken.pptx", lambda: fx.truncated(fx.pptx()), "not a readable PPTX"),
        ("broken.xls", lambda: fx.truncated(fx.xls(), 0.3), "XLS"),
        ("broken.json", lambda: b'{"a": [1, 2', "malformed JSON"),
        ("broken.jsonl", lambda: b'{"a": 1}\n{"a": \n', "line 2"),
        ("broken.xml", lambda: b"<a><b></a>", "malformed XML"),
        ("bomb.xml", fx.xml_bomb, "XML"),
        ("broken.png", lambda: fx.truncated(fx.png(), 0.5), "not a readable image"),
        ("broken.mp4", lambda: fx.truncated(fx.mp4(), 0.2), "audio/video"),
        ("noise.mp3", fx.garbage, "audio/video"),
        ("broken.zip", lambda: fx.truncated(fx.nested_zip(), 0.5), "ZIP"),
        ("letter.odt", fx.odt_like, "OpenDocument files are not supported"),
        ("letter.doc", lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "legacy"),
        ("blob.bin", fx.garbage, "unsupported file type"),
        ("empty.txt", lambda: b"", "empty"),
    ],
)
def test_bad_files_fail_clearly(name, make, reason):
    with pytest.raises(DocumentError) as info:
        extract_bytes(name, make())
    assert str(info.value).startswith(name)
    assert reason.lower() in info.value.reason.lower(), info.value.reason


def test_zip_bomb_is_refused_by_ratio():
    with pytest.raises(DocumentError, match="zip bomb"):
        extract_bytes("bomb.zip", fx.zip_bomb(16))


def test_zip_limits_members_depth_and_total():
    settings = DocumentSettings(doc_zip_max_members=20)
    with pytest.raises(DocumentError, match="more than 20 archive members"):
        extract_bytes("many.zip", fx.many_member_zip(50), settings=settings)
    nested = fx.zip_of({"a.txt": b"x"})
    for level in range(5):
        nested = fx.zip_of({f"level{level}.zip": nested})
    with pytest.raises(DocumentError, match="nested deeper than 3"):
        extract_bytes("deep.zip", nested)
    # incompressible members that only together pass the total budget
    members = {f"part{i}.bin": fx.garbage(300_000, seed=i) for i in range(5)}
    with pytest.raises(DocumentError, match="expands past"):
        extract_bytes(
            "big.zip", fx.zip_of(members), settings=DocumentSettings(doc_zip_max_total_bytes=1_000_000)
        )


def test_zip_member_errors_do_not_hide_the_rest():
    doc = extract_bytes("mixed.zip", fx.zip_of({"good.csv": fx.csv_text(), "bad.pdf": b"%PDF-1.7 garbage"}))
    assert _has_inventory(_table_values(doc.children[0]))
    assert any("mixed.zip/bad.pdf" in w for w in doc.warnings)


def test_size_limit():
    with pytest.raises(DocumentError, match="exceeds the limit"):
        extract_bytes("big.txt", b"x" * 2048, settings=DocumentSettings(doc_max_bytes=1024))
