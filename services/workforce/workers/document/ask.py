"""Questions about media: images and video frames to a vision-language model, audio to a speech model first.

Vision: any OpenAI-compatible chat endpoint that takes `image_url` parts (data URLs), WF_VISION_* or the main
LLM endpoint. Speech: an OpenAI-compatible `/v1/audio/transcriptions` endpoint (WF_TRANSCRIPTION_*, default
the main LLM endpoint), or a local transformers ASR pipeline when WF_ASR_MODEL names a model path.
"""

import asyncio
import io
import logging

import openai

from ...core.llm.client import LLMError, ChatClient
from ...core.llm.vision import VISION_ROLE, VisionNotConfigured, vision_client
from . import media
from .config import DocumentSettings
from .model import DocumentError

log = logging.getLogger(__name__)

TRANSCRIPT_ROLE = "worker:document:transcript"

VISION_SYSTEM = (
    "You answer questions about images precisely. Describe only what is visible; if the image does "
    "not show the answer, say so."
)


class MediaModels:
    """The vision, speech and transcript-QA backends of a document worker, built lazily from settings."""

    def __init__(self, settings: DocumentSettings, llm=None):
        self.settings = settings
        self.llm = llm  # the worker's chat model, used to answer over a transcript
        self._vision: ChatClient | None = None
        self._speech: openai.AsyncOpenAI | None = None
        self._asr = None

    # ---- vision ----

    def vision(self) -> ChatClient:
        if self._vision is None:
            try:
                self._vision = vision_client(self.settings)
            except VisionNotConfigured as exc:
                raise DocumentError("vision", str(exc)) from None
        return self._vision

    async def ask_images(self, question: str, images: list[tuple[str, str]], task_id: str = "") -> str:
        """images: (label, data URL). One request with every image, labelled in order."""
        content: list[dict] = []
        for label, url in images:
            content.append({"type": "text", "text": label})
            content.append({"type": "image_url", "image_url": {"url": url}})
        content.append({"type": "text", "text": f"Question: {question}"})
        messages = [{"role": "system", "content": VISION_SYSTEM}, {"role": "user", "content": content}]
        try:
            result = await self.vision().chat(messages, role=VISION_ROLE, task_id=task_id)
        except LLMError as exc:
            raise DocumentError(
                images[0][0] if images else "image", f"the vision model failed: {exc}"
            ) from exc
        return result.content.strip()

    async def ask_image(self, name: str, data: bytes, question: str, task_id: str = "") -> str:
        url = await asyncio.to_thread(media.image_data_url, name, data, self.settings.vision_max_side)
        return await self.ask_images(question, [(f"Image {name}:", url)], task_id)

    async def ask_video(self, name: str, data: bytes, question: str, task_id: str = "") -> tuple[str, int]:
        frames = await asyncio.to_thread(media.video_frames, name, data, self.settings.video_frames)
        images = []
        for seconds, image in frames:
            image.thumbnail((self.settings.vision_max_side, self.settings.vision_max_side))
            images.append((f"Frame of {name} at {seconds:.2f} s:", media.pil_data_url(image)))
        return await self.ask_images(question, images, task_id), len(frames)

    # ---- speech ----

    async def transcribe(self, name: str, data: bytes) -> str:
        if self.settings.asr_model:
            return await asyncio.to_thread(self._transcribe_local, name, data)
        base = self.settings.transcription_base_url or self.settings.llm_base_url
        if not base:
            raise DocumentError(
                name,
                "no speech model configured: set WF_TRANSCRIPTION_BASE_URL (an OpenAI-"
                "compatible /v1/audio/transcriptions endpoint) or WF_ASR_MODEL (a local model path)",
            )
        if self._speech is None:
            self._speech = openai.AsyncOpenAI(
                base_url=base,
                api_key=self.settings.transcription_api_key or self.settings.llm_api_key or "EMPTY",
                timeout=self.settings.llm_timeout_s,
                max_retries=self.settings.llm_max_retries,
            )
        # Re-encoded as WAV: every transcription server reads it, whatever the original container (video too).
        wav = await asyncio.to_thread(media.audio_wav, name, data)
        try:
            result = await self._speech.audio.transcriptions.create(
                model=self.settings.transcription_model, file=(_wav_name(name), io.BytesIO(wav), "audio/wav")
            )
        except openai.APIError as exc:
            raise DocumentError(name, f"the transcription endpoint failed: {exc}") from exc
        return (getattr(result, "text", None) or str(result)).strip()

    def _transcribe_local(self, name: str, data: bytes) -> str:
        if self._asr is None:
            try:
                from transformers import pipeline

                self._asr = pipeline(
                    "automatic-speech-recognition",
                    model=self.settings.asr_model,
                    chunk_length_s=30,
                    device="cpu",
                )
            except Exception as exc:
                raise DocumentError(
                    name, f"the local speech model {self.settings.asr_model!r} could not be loaded: {exc}"
                ) from exc
        samples = media.decode_audio(name, data)
        return self._asr({"raw": samples, "sampling_rate": 16_000})["text"].strip()

    async def answer_over_transcript(
        self, name: str, transcript: str, question: str, task_id: str = ""
    ) -> str:
        if self.llm is None:
            raise DocumentError(name, "no chat model available to answer over the transcript")
        messages = [
            {
                "role": "system",
                "content": "Answer the question using only the transcript. Quote it where useful; "
                "if the transcript does not contain the answer, say so.",
            },
            {"role": "user", "content": f"Transcript of {name}:\n{transcript}\n\nQuestion: {question}"},
        ]
        try:
            result = await self.llm.chat(messages, role=TRANSCRIPT_ROLE, task_id=task_id)
        except LLMError as exc:
            raise DocumentError(name, f"the model failed to answer over the transcript: {exc}") from exc
        return result.content.strip()


def _wav_name(name: str) -> str:
    return name.rsplit("/", 1)[-1].rsplit(".", 1)[0] + ".wav"
