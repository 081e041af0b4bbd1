"""Documents generated for the tests, in every format worker-document reads, plus corrupt and encrypted ones.

Every generator returns bytes whose content the tests know: the same facts (an inventory table with known
values) appear in each format, so extraction is checked against values, not just "did not crash".
"""

import io
import json
import math
import wave
import zipfile

ROWS = [
    ["Item", "Quantity", "Price"],
    ["Widget", "4", "2.50"],
    ["Gadget", "7", "11.00"],
    ["Sprocket", "12", "0.75"],
]
TITLE = "Quarterly inventory report"
SENTENCE = "The warehouse in Rotterdam shipped 1234 units in March."


# ---- office and PDF ----


def pdf(pages: int = 2) -> bytes:
    from fpdf import FPDF

    doc = FPDF()
    doc.set_font("helvetica", size=12)
    for page in range(1, pages + 1):
        doc.add_page()
        doc.cell(0, 10, f"{TITLE} - page {page}", new_x="LMARGIN", new_y="NEXT")
        doc.multi_cell(0, 8, SENTENCE if page == 1 else f"Page {page} text.")
        if page == 1:
            with doc.table() as table:  # ruled cells: pdfplumber finds them as a table
                for row in ROWS:
                    cells = table.row()
                    for value in row:
                        cells.cell(value)
    return bytes(doc.output())


def scanned_pdf() -> bytes:
    """A page that is only a picture (no text layer), like a scan."""
    from fpdf import FPDF
    from PIL import Image

    doc = FPDF()
    doc.add_page()
    doc.image(Image.new("RGB", (200, 100), (250, 250, 250)), x=10, y=10, w=100)
    return bytes(doc.output())


def encrypted_pdf(password: str = "s3cret") -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf(1))))
    writer.encrypt(user_password=password, owner_password=password, algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def owner_only_pdf() -> bytes:
    """Encrypted with an empty user password (readable by anyone, like many PDFs on the web)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf(1))))
    writer.encrypt(user_password="", owner_password="owner", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def docx() -> bytes:
    import docx as python_docx

    document = python_docx.Document()
    document.core_properties.title = TITLE
    document.add_heading(TITLE, level=1)
    document.add_paragraph(SENTENCE)
    table = document.add_table(rows=len(ROWS), cols=3)
    for r, row in enumerate(ROWS):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.add_paragraph("After the table.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def encrypted_office(data: bytes, password: str = "s3cret") -> bytes:
    from msoffcrypto.format.ooxml import OOXMLFile

    out = io.BytesIO()
    OOXMLFile(io.BytesIO(data)).encrypt(password, out)
    return out.getvalue()


def xlsx() -> bytes:
    import datetime
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Inventory"
    for row in ROWS:
        sheet.append([row[0], int(row[1]), float(row[2])] if row[1].isdigit() else row)
    second = book.create_sheet("Dates")
    second.append(["Event", "Date"])
    second.append(["Audit", datetime.datetime(2024, 3, 15)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def xls() -> bytes:
    import xlwt

    book = xlwt.Workbook()
    sheet = book.add_sheet("Inventory")
    for r, row in enumerate(ROWS):
        for c, value in enumerate(row):
            sheet.write(r, c, float(value) if r and c else value)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def pptx() -> bytes:
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[0])
    slide.shapes.title.text = TITLE
    slide.placeholders[1].text = SENTENCE
    slide.notes_slide.notes_text_frame.text = "Speaker note: mention Rotterdam."
    second = deck.slides.add_slide(deck.slide_layouts[5])
    second.shapes.title.text = "Inventory table"
    shape = second.shapes.add_table(len(ROWS), 3, Inches(1), Inches(2), Inches(6), Inches(2))
    for r, row in enumerate(ROWS):
        for c, value in enumerate(row):
            shape.table.cell(r, c).text = value
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


# ---- text formats ----


def csv_text(delimiter: str = ",") -> bytes:
    return "\n".join(delimiter.join(r) for r in ROWS).encode() + b"\n"


def html() -> bytes:
    rows = "".join(
        "<tr>" + "".join(f"<{'th' if i == 0 else 'td'}>{v}</{'th' if i == 0 else 'td'}>" for v in r) + "</tr>"
        for i, r in enumerate(ROWS)
    )
    paragraphs = "".join(
        f"<p>{SENTENCE} Paragraph {i} adds some ordinary article text to read.</p>" for i in range(6)
    )
    return (
        f"<html><head><title>{TITLE}</title><script>var tracking = 1;</script></head><body>"
        f"<nav><a href='/'>Home</a> | <a href='/about'>About</a></nav><article><h1>{TITLE}</h1>{paragraphs}"
        f"<table><caption>Inventory</caption>{rows}</table></article>"
        f"<footer>Copyright footer</footer></body></html>"
    ).encode()


def json_doc() -> bytes:
    records = [dict(zip(ROWS[0], r)) for r in ROWS[1:]]
    return json.dumps(records).encode()


def jsonl() -> bytes:
    return "\n".join(json.dumps(dict(zip(ROWS[0], r))) for r in ROWS[1:]).encode() + b"\n"


def xml() -> bytes:
    items = "".join(
        f'<item name="{r[0]}"><quantity>{r[1]}</quantity><price>{r[2]}</price></item>' for r in ROWS[1:]
    )
    return f'<?xml version="1.0"?><inventory title="{TITLE}">{items}</inventory>'.encode()


def xml_bomb() -> bytes:
    """Billion laughs: expanding it would take gigabytes."""
    entities = '<!ENTITY a0 "lol">' + "".join(
        f'<!ENTITY a{i} "{("&a" + str(i - 1) + ";") * 10}">' for i in range(1, 10)
    )
    return f'<?xml version="1.0"?><!DOCTYPE bomb [{entities}]><bomb>&a9;</bomb>'.encode()


def latin1_text() -> bytes:
    text = (
        "Le café de la gare est très fréquenté le matin. Les élèves y prennent un thé ou un café crème "
        "avant les leçons; à midi, on y mange une crème brûlée préparée par le cuisinier, un garçon "
        "très aimé du quartier. Où se trouve-t-il? Près de la fenêtre, derrière le comptoir à côté "
        "de la boîte aux lettres.\n"
    )
    return (text * 5).encode("latin-1")


def markdown() -> bytes:
    return f"# {TITLE}\n\n{SENTENCE}\n\n| a | b |\n|---|---|\n| 1 | 2 |\n".encode()


# ---- archives ----


def zip_of(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return out.getvalue()


def nested_zip() -> bytes:
    inner = zip_of({"report.docx": docx(), "notes/readme.txt": b"inner readme"})
    return zip_of({"data/inventory.csv": csv_text(), "inner.zip": inner, "summary.json": json_doc()})


def zip_bomb(megabytes: int = 64) -> bytes:
    """One member of zeros: tiny compressed, `megabytes` uncompressed (ratio about 1000:1)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("zeros.bin", "w", force_zip64=True) as member:
            block = bytes(1 << 20)
            for _ in range(megabytes):
                member.write(block)
    return out.getvalue()


def many_member_zip(count: int) -> bytes:
    return zip_of({f"f{i}.txt": b"x" for i in range(count)})


# ---- media ----


def png(width: int = 64, height: int = 48, color=(200, 20, 20)) -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), color)
    ImageDraw.Draw(image).rectangle([4, 4, 20, 20], fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def jpeg(width: int = 3000, height: int = 2000) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 200)).save(out, format="JPEG")
    return out.getvalue()


def wav(seconds: float = 1.0, rate: int = 16_000, frequency: float = 440.0) -> bytes:
    frames = bytearray()
    for i in range(int(seconds * rate)):
        value = int(12_000 * math.sin(2 * math.pi * frequency * i / rate))
        frames += value.to_bytes(2, "little", signed=True)
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(frames))
    return out.getvalue()


def _tone(frame_samples: int, start: int, rate: int):
    import numpy as np

    t = (np.arange(frame_samples) + start) / rate
    return (0.3 * np.sin(2 * np.pi * 440 * t)).astype("float32")


def mp3(seconds: float = 1.0, rate: int = 44_100) -> bytes:
    import av

    out = io.BytesIO()
    with av.open(out, "w", format="mp3") as container:
        stream = container.add_stream("libmp3lame", rate=rate, layout="mono")
        _encode_audio(container, stream, seconds, rate)
    return out.getvalue()


def _encode_audio(container, stream, seconds: float, rate: int) -> None:
    import av

    size, done = 1152, 0
    while done < seconds * rate:
        samples = _tone(size, done, rate).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(samples, format="flt", layout="mono")
        frame.sample_rate = rate
        frame.pts = done
        for packet in stream.encode(frame):
            container.mux(packet)
        done += size
    for packet in stream.encode(None):
        container.mux(packet)


def mp4(seconds: float = 2.0, fps: int = 10, with_audio: bool = True) -> bytes:
    """Red for the first half, blue for the second: sampled frames show which part they come from."""
    import av
    import numpy as np

    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        video = container.add_stream("mpeg4", rate=fps)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        audio = container.add_stream("aac", rate=16_000, layout="mono") if with_audio else None
        total = int(seconds * fps)
        for i in range(total):
            color = (220, 0, 0) if i < total / 2 else (0, 0, 220)
            pixels = np.zeros((48, 64, 3), dtype=np.uint8) + np.array(color, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = i
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode(None):
            container.mux(packet)
        if audio is not None:
            _encode_audio(container, audio, seconds, 16_000)
    return out.getvalue()


# ---- damaged and unsupported ----


def truncated(data: bytes, keep: float = 0.4) -> bytes:
    return data[: int(len(data) * keep)]


def garbage(size: int = 4096, seed: int = 7) -> bytes:
    import random

    return random.Random(seed).randbytes(size)


def odt_like() -> bytes:
    return zip_of({"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<x/>"})
