"""worker-document: reads the task's files (and documents at URLs) in every common format, and answers
questions about images, audio and video with a vision and a speech model.

Other workers use `workforce.workers.document.extract.extract_bytes(name, data, media_type)`.
"""

from ...core.config import Settings
from ..tools import WorkerSpec
from .ask import MediaModels
from .config import document_settings
from .tools import DocumentTools

DESCRIPTION = (
    "Reads documents and media: PDF, Word, Excel, CSV, PowerPoint, HTML, JSON, XML, text and ZIP "
    "archives (tables kept as tables); answers questions about images, video frames and audio "
    "(transcribed). Use it for any question about an attached file or a document at a URL."
)

SYSTEM_PROMPT = (
    "Read the files before answering: list_files shows what is attached. Answer from what the files "
    "say, quoting numbers exactly. If a file cannot be read (corrupt, encrypted, unsupported), set "
    "failed to true and name the file and the reason."
)


def _chat_model(settings):
    if not settings.llm_base_url:
        return None
    from ...core.llm.client import ChatClient

    return ChatClient(settings)


def spec(settings: Settings) -> WorkerSpec:
    doc_settings = document_settings(settings)
    tools = DocumentTools(doc_settings, MediaModels(doc_settings, _chat_model(doc_settings)))
    return WorkerSpec(
        worker_type="document", description=DESCRIPTION, tools=tools.tools(), system_prompt=SYSTEM_PROMPT,
        requires_tool=True,  # answers come from the files, never from memory
        needs_documents=True,  # with no file and no URL it can only answer "no files are attached"
    )
