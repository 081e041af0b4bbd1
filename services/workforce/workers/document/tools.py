"""The document worker's tools: read any attached or fetched file; ask about images, audio and video."""

import asyncio
from collections import OrderedDict

from ..tools import Tool, ToolContext
from .archive import open_member
from .config import DocumentSettings
from .extract import extract_bytes, zip_budget
from .fetch import fetch_document
from .ask import MediaModels
from .model import DocumentError, Extracted

FILE_PARAM = {
    "type": "string",
    "minLength": 1,
    "maxLength": 2000,
    "description": "an attached file's name, a member of an attached ZIP as 'archive.zip/path/in/zip', "
    "or an http(s) URL",
}
QUESTION_PARAM = {"type": "string", "minLength": 1, "maxLength": 4000}


class DocumentTools:
    """Tools bound to one worker's settings; extracted files are cached per subtask attempt."""

    def __init__(self, settings: DocumentSettings, models: MediaModels):
        self.settings = settings
        self.models = models
        self._cache: OrderedDict[tuple[str, str], Extracted] = OrderedDict()

    async def load(self, ctx: ToolContext, file: str) -> tuple[str, bytes, str]:
        """(name, bytes, media type) of an attached file, an archive member, or a URL."""
        if file.startswith(("http://", "https://")):
            return await fetch_document(file, self.settings)
        refs = {f.name: f for f in ctx.files}
        if file in refs:
            return file, await ctx.read_file(refs[file]), refs[file].media_type
        for name, ref in refs.items():
            if file.startswith(name + "/"):
                data = await ctx.read_file(ref)
                member, content = await asyncio.to_thread(
                    open_member, name, data, file[len(name) + 1 :], zip_budget(self.settings)
                )
                return member, content, ""
        attached = ", ".join(refs) or "none"
        raise DocumentError(file, f"no such file attached to the task (attached: {attached})")

    async def extracted(self, ctx: ToolContext, file: str) -> Extracted:
        key = (ctx.attempt_id, file)
        if key not in self._cache:
            name, data, media_type = await self.load(ctx, file)
            self._cache[key] = await asyncio.to_thread(
                extract_bytes, name, data, media_type, settings=self.settings
            )
            while len(self._cache) > 16:
                self._cache.popitem(last=False)
        return self._cache[key]

    def page(self, text: str, start: int) -> str:
        size = self.settings.doc_max_chars
        if start >= len(text) > 0:
            return f"(start {start} is past the end: the text has {len(text)} characters)"
        chunk = text[start : start + size]
        if start == 0 and len(text) <= size:
            return chunk
        end = start + len(chunk)
        more = f"; call again with start={end} for more" if end < len(text) else ""
        return f"(characters {start}–{end} of {len(text)}{more})\n{chunk}"

    # ---- the tools ----

    async def list_files(self, ctx: ToolContext) -> str:
        if not ctx.files:
            return "No files are attached to this task."
        return "\n".join(f"- {f.name} ({f.media_type or 'unknown type'}, {f.size} bytes)" for f in ctx.files)

    async def read_document(self, ctx: ToolContext, file: str, start: int = 0) -> str:
        doc = await self.extracted(ctx, file)
        if doc.kind != "text":
            hint = {
                "image": "ask_image",
                "audio": "ask_audio or transcribe",
                "video": "ask_video / ask_audio",
            }
            return f"{doc.render()}\n(This is {doc.kind}; use {hint[doc.kind]} to ask about its content.)"
        return self.page(doc.render(), start)

    async def ask_image(self, ctx: ToolContext, file: str, question: str) -> str:
        name, data, _ = await self.load(ctx, file)
        return await self.models.ask_image(name, data, question, ctx.task_id)

    async def ask_video(self, ctx: ToolContext, file: str, question: str) -> str:
        name, data, _ = await self.load(ctx, file)
        answer, frames = await self.models.ask_video(name, data, question, ctx.task_id)
        return f"(answered from {frames} frames of {name})\n{answer}"

    async def transcribe(self, ctx: ToolContext, file: str, start: int = 0) -> str:
        name, data, _ = await self.load(ctx, file)
        return self.page(await self.models.transcribe(name, data), start)

    async def ask_audio(self, ctx: ToolContext, file: str, question: str) -> str:
        name, data, _ = await self.load(ctx, file)
        transcript = await self.models.transcribe(name, data)
        answer = await self.models.answer_over_transcript(name, transcript, question, ctx.task_id)
        cut = self.settings.doc_max_chars // 2
        shown = transcript if len(transcript) <= cut else transcript[:cut] + " …"
        return f"Answer: {answer}\n\nTranscript of {name}:\n{shown}"

    def tools(self) -> list[Tool]:
        paged = {
            "type": "object",
            "properties": {"file": FILE_PARAM, "start": {"type": "integer", "minimum": 0}},
            "required": ["file"],
            "additionalProperties": False,
        }
        question = {
            "type": "object",
            "properties": {"file": FILE_PARAM, "question": QUESTION_PARAM},
            "required": ["file", "question"],
            "additionalProperties": False,
        }
        media_s = self.settings.llm_timeout_s * 2 + 60
        return [
            Tool(
                "list_files",
                "List the files attached to the task.",
                {"type": "object", "properties": {}, "additionalProperties": False},
                self.list_files,
                timeout_s=10,
            ),
            Tool(
                "read_document",
                "Read a document's text and tables (PDF, DOCX, XLSX/XLS, CSV/TSV, PPTX, HTML, JSON/JSONL, "
                "XML, TXT/MD, ZIP archives recursively). Long text comes in pages: pass `start` for the "
                "next one.",
                paged,
                self.read_document,
                timeout_s=180,
            ),
            Tool(
                "ask_image",
                "Ask a vision model a question about an image file.",
                question,
                self.ask_image,
                timeout_s=media_s,
            ),
            Tool(
                "ask_video",
                "Ask a vision model a question about a video (frames sampled evenly).",
                question,
                self.ask_video,
                timeout_s=media_s,
            ),
            Tool(
                "transcribe",
                "Transcribe the speech in an audio or video file.",
                paged,
                self.transcribe,
                timeout_s=media_s * 2,
            ),
            Tool(
                "ask_audio",
                "Answer a question about an audio (or video) file from its transcript.",
                question,
                self.ask_audio,
                timeout_s=media_s * 2,
            ),
        ]
