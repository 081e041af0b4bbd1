"""worker-document tools over a real object store: attached files, archive members, URLs, and questions about
images, video and audio answered through a scripted OpenAI-compatible server."""

import base64
import io
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image

from tests.workers import document_fixtures as fx
from tests.workers.worker_helpers import attach, make_context
from workforce.workers.document import spec
from workforce.workers.document.config import DocumentSettings

# fixtures (nats_channel, scripted_llm, workers_system, …) are registered once for the session
pytest_plugins = ["tests.workers.worker_support"]


def _settings(**extra) -> DocumentSettings:
    return DocumentSettings(**extra)


def _tools(settings):
    return {t.name: t for t in spec(settings).tools}


def _images(request) -> list[Image.Image]:
    out = []
    for message in request["messages"]:
        if isinstance(message.get("content"), list):
            for part in message["content"]:
                if part.get("type") == "image_url":
                    header, data = part["image_url"]["url"].split(",", 1)
                    assert header.startswith("data:image/")
                    out.append(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"))
    return out


async def test_read_document_attached_files(nats_channel):
    ctx = make_context(
        nats_channel,
        _settings(),
        [
            await attach(nats_channel, "t-read", "report.pdf", fx.pdf(), "application/pdf"),
            await attach(nats_channel, "t-read", "bundle.zip", fx.nested_zip(), "application/zip"),
        ],
        task_id="t-read",
    )
    tools = _tools(_settings())
    listing = await tools["list_files"].run(ctx, {})
    assert "report.pdf (application/pdf" in listing.text and "bundle.zip" in listing.text
    result = await tools["read_document"].run(ctx, {"file": "report.pdf"})
    assert (
        result.ok
        and "Rotterdam shipped 1234 units" in result.text
        and "| Sprocket | 12 | 0.75 |" in result.text
    )
    member = await tools["read_document"].run(ctx, {"file": "bundle.zip/inner.zip/report.docx"})
    assert member.ok and "# Quarterly inventory report" in member.text
    missing = await tools["read_document"].run(ctx, {"file": "nope.pdf"})
    assert not missing.ok and "nope.pdf" in missing.text and "report.pdf" in missing.text


async def test_long_text_is_paged(nats_channel):
    settings = _settings(doc_max_chars=1000)
    text = "".join(f"line {i:05d}\n" for i in range(500)).encode()
    ctx = make_context(
        nats_channel, settings, [await attach(nats_channel, "t-page", "long.txt", text)], "t-page"
    )
    tool = _tools(settings)["read_document"]
    pages, start = [], 0
    while True:
        page = await tool.run(ctx, {"file": "long.txt", "start": start})
        header, body = page.text.split("\n", 1)
        assert header.startswith(f"(characters {start}–")
        pages.append(body)
        if "call again" not in header:
            break
        start = int(header.split("start=")[1].split()[0])
    assert len(pages) == 6 and all(len(p) == 1000 for p in pages[:-1])
    assert "".join(pages).endswith(text.decode()) and "line 00250" in "".join(pages)
    bad = await tool.run(ctx, {"file": "long.txt", "start": -1})
    assert not bad.ok and "invalid arguments" in bad.text


async def test_corrupt_and_encrypted_attachments_fail_with_the_reason(nats_channel):
    ctx = make_context(
        nats_channel,
        _settings(),
        [
            await attach(nats_channel, "t-bad", "secret.pdf", fx.encrypted_pdf()),
            await attach(nats_channel, "t-bad", "broken.xlsx", fx.truncated(fx.xlsx())),
        ],
        "t-bad",
    )
    tool = _tools(_settings())["read_document"]
    secret = await tool.run(ctx, {"file": "secret.pdf"})
    assert not secret.ok and "secret.pdf: the PDF is encrypted" in secret.text
    broken = await tool.run(ctx, {"file": "broken.xlsx"})
    assert not broken.ok and "broken.xlsx: not a readable XLSX" in broken.text


async def test_ask_image_sends_a_scaled_image_to_the_vision_model(nats_channel, scripted_llm):
    scripted_llm.reset()
    scripted_llm.script([{"role": "vision", "reply": {"content": "A blue rectangle."}}])
    settings = _settings(llm_base_url=scripted_llm.base_url, vision_max_side=512, vision_model="vl-model")
    ctx = make_context(
        nats_channel,
        settings,
        [await attach(nats_channel, "t-img", "photo.jpg", fx.jpeg(3000, 2000))],
        "t-img",
    )
    result = await _tools(settings)["ask_image"].run(
        ctx, {"file": "photo.jpg", "question": "What colour is it?"}
    )
    assert result.ok and result.text == "A blue rectangle."
    request = [r for r in scripted_llm.requests() if r["role"] == "vision"][-1]
    assert request["model"] == "vl-model"
    (image,) = _images(request)
    assert image.size == (512, 341)
    r, g, b = image.getpixel((100, 100))
    assert b > 150 and r < 60
    assert "What colour is it?" in str(request["messages"])


async def test_ask_video_samples_frames_in_order(nats_channel, scripted_llm):
    scripted_llm.reset()
    scripted_llm.script([{"role": "vision", "reply": {"content": "It turns from red to blue."}}])
    settings = _settings(llm_base_url=scripted_llm.base_url, video_frames=4)
    ctx = make_context(
        nats_channel, settings, [await attach(nats_channel, "t-vid", "clip.mp4", fx.mp4(2.0))], "t-vid"
    )
    result = await _tools(settings)["ask_video"].run(ctx, {"file": "clip.mp4", "question": "What happens?"})
    assert result.ok and "4 frames" in result.text and "red to blue" in result.text
    frames = _images([r for r in scripted_llm.requests() if r["role"] == "vision"][-1])
    assert len(frames) == 4
    first, last = frames[0].getpixel((32, 24)), frames[-1].getpixel((32, 24))
    assert first[0] > 150 and first[2] < 80, first  # red half
    assert last[2] > 150 and last[0] < 80, last  # blue half


async def test_ask_about_an_image_inside_an_archive(nats_channel, scripted_llm):
    scripted_llm.reset()
    scripted_llm.script([{"role": "vision", "reply": {"content": "A red image with a white square."}}])
    settings = _settings(llm_base_url=scripted_llm.base_url)
    bundle = fx.zip_of({"img/photo.png": fx.png(80, 60)})
    ctx = make_context(
        nats_channel, settings, [await attach(nats_channel, "t-zimg", "bundle.zip", bundle)], "t-zimg"
    )
    result = await _tools(settings)["ask_image"].run(
        ctx, {"file": "bundle.zip/img/photo.png", "question": "?"}
    )
    assert result.ok and "white square" in result.text
    (image,) = _images([r for r in scripted_llm.requests() if r["role"] == "vision"][-1])
    assert image.size == (80, 60)


async def test_vision_without_a_model_fails_clearly(nats_channel):
    settings = _settings(llm_base_url="", vision_base_url="")
    ctx = make_context(
        nats_channel, settings, [await attach(nats_channel, "t-nov", "p.png", fx.png())], "t-nov"
    )
    result = await _tools(settings)["ask_image"].run(ctx, {"file": "p.png", "question": "?"})
    assert not result.ok and "WF_VISION_BASE_URL" in result.text


@pytest.mark.parametrize("name, make", [("memo.mp3", lambda: fx.mp3(1.0)), ("clip.mp4", lambda: fx.mp4(1.0))])
async def test_ask_audio_transcribes_then_answers(
    nats_channel, scripted_llm, transcription_server, name, make
):
    scripted_llm.reset()
    scripted_llm.script(
        [{"role": "worker:document:transcript", "contains": "nine thirty", "reply": {"content": "At 9:30."}}]
    )
    transcription_server.requests.clear()
    settings = _settings(
        llm_base_url=scripted_llm.base_url,
        transcription_base_url=transcription_server.base_url,
        transcription_model="whisper-small",
    )
    ctx = make_context(nats_channel, settings, [await attach(nats_channel, "t-aud", name, make())], "t-aud")
    result = await _tools(settings)["ask_audio"].run(ctx, {"file": name, "question": "When does it start?"})
    assert result.ok, result.text
    assert result.text.startswith("Answer: At 9:30.") and "the meeting starts at nine thirty" in result.text
    (upload,) = transcription_server.requests
    assert upload["model"] == "whisper-small" and upload["filename"].endswith(".wav")
    assert upload["data"][:4] == b"RIFF" and len(upload["data"]) > 16_000  # about a second of 16 kHz speech
    qa = [r for r in scripted_llm.requests() if r["role"] == "worker:document:transcript"][-1]
    assert "When does it start?" in str(qa["messages"])


async def test_audio_without_speech_model_fails_clearly(nats_channel):
    settings = _settings(llm_base_url="", transcription_base_url="", asr_model="")
    ctx = make_context(
        nats_channel, settings, [await attach(nats_channel, "t-noa", "a.wav", fx.wav())], "t-noa"
    )
    result = await _tools(settings)["transcribe"].run(ctx, {"file": "a.wav"})
    assert not result.ok and "WF_TRANSCRIPTION_BASE_URL" in result.text and "WF_ASR_MODEL" in result.text


class _Site(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/report.pdf":
            body = fx.pdf()
            self.send_response(200)
            self.send_header("Content-Type", "application/pdf")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/to-loopback":
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{self.server.server_port}/report.pdf")
            self.end_headers()
        elif self.path == "/big":
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"x" * 200_000)
        else:
            self.send_response(404)
            self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_port
    server.shutdown()


async def test_fetch_documents_by_url_with_address_checks(nats_channel, site):
    tools = _tools(_settings(doc_fetch_allow_hosts="localhost"))
    ctx = make_context(nats_channel, _settings(), [], "t-url")
    ok = await tools["read_document"].run(ctx, {"file": f"http://localhost:{site}/report.pdf"})
    assert ok.ok and "Rotterdam shipped 1234 units" in ok.text
    # loopback by address, and a redirect from an allowed host to loopback: both refused
    direct = await tools["read_document"].run(ctx, {"file": f"http://127.0.0.1:{site}/report.pdf"})
    assert not direct.ok and "loopback address" in direct.text
    redirected = await tools["read_document"].run(ctx, {"file": f"http://localhost:{site}/to-loopback"})
    assert not redirected.ok and "127.0.0.1" in redirected.text and "loopback address" in redirected.text
    missing = await tools["read_document"].run(ctx, {"file": f"http://localhost:{site}/missing.pdf"})
    assert not missing.ok and "HTTP 404" in missing.text
    small = _tools(_settings(doc_fetch_allow_hosts="localhost", doc_max_bytes=100_000))
    big = await small["read_document"].run(ctx, {"file": f"http://localhost:{site}/big"})
    assert not big.ok and "larger than the limit" in big.text
    scheme = await tools["read_document"].run(ctx, {"file": "http://"})
    assert not scheme.ok
