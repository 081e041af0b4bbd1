"""worker-document settings (environment variables WF_DOC_*, WF_VISION_*, WF_TRANSCRIPTION_*, WF_ASR_*)."""

from ...core.config import Settings
from ...core.llm.vision import VisionSettings


class DocumentSettings(VisionSettings):
    # --- limits on what is read ---
    doc_max_bytes: int = 100 * 1024 * 1024  # one file (attached, fetched or an archive member)
    doc_max_chars: int = 20_000  # text returned by one tool call (the agent pages with `start`)
    doc_pdf_max_pages: int = 1000
    doc_pdf_table_pages: int = 50  # pages searched for ruled tables (slower than text)
    doc_max_rows: int = 20_000  # rows kept per table / sheet
    doc_zip_max_members: int = 1000
    doc_zip_max_total_bytes: int = 500 * 1024 * 1024  # uncompressed, all members, all nesting levels
    doc_zip_max_ratio: float = 200.0  # uncompressed / compressed, per member (zip bombs)
    doc_zip_max_depth: int = 3
    # --- fetching documents by URL ---
    doc_fetch_timeout_s: float = 30.0
    # the network guard's allowlist (workers/netguard.py): hosts, host:port, addresses or networks reachable even
    # when private, e.g. "intranet.local, 10.1.0.0/16"
    doc_fetch_allow_hosts: str = ""

    # --- vision (images, video frames): the model is WF_VISION_* (core/llm/vision.py) ---
    vision_max_side: int = 1536  # images are scaled down to this many pixels on the long side
    video_frames: int = 8  # frames sampled evenly from a video

    # --- speech: an OpenAI-compatible /v1/audio/transcriptions endpoint, or a local transformers model ---
    transcription_base_url: str = ""  # empty: WF_LLM_BASE_URL (unless WF_ASR_MODEL is set)
    transcription_api_key: str = ""
    transcription_model: str = "whisper-1"
    asr_model: str = ""  # a local path / hub id for transformers' ASR pipeline


def document_settings(settings: Settings) -> DocumentSettings:
    """The worker's settings plus the document ones (read from the same environment)."""
    if isinstance(settings, DocumentSettings):
        return settings
    return DocumentSettings(**settings.model_dump())
