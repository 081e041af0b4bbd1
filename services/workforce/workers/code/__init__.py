"""worker-code (reasoning and coding): runs Python, and shell where enabled, in the sandbox executor (its own
service, services/workforce/sandbox/, reached over gRPC at WF_SANDBOX_URL: see remote.py), stores the files
the code produces, and reads documents. No model-written code runs in this process or its pod."""

from ...core.config import Settings
from ..document.ask import MediaModels
from ..document.config import document_settings
from ..document.tools import DocumentTools
from ..tools import WorkerSpec
from .blocks import CodeBlockAgent
from .limits import code_settings
from .remote import RemoteSandbox
from .tools import CodeTools

DESCRIPTION = (
    "Reasons step by step and writes and runs Python code (numpy, pandas, sympy) in a sandbox: "
    "calculations, data analysis of attached spreadsheets and files, simulations, puzzles, checking "
    "answers. Also reads documents."
)

SYSTEM_PROMPT = (
    "Compute rather than guess: write a program, run it with run_python, read its output and fix it "
    "when it fails. Print the values you need. Report the final result with the evidence."
)


def spec(settings: Settings) -> WorkerSpec:
    code = code_settings(settings)
    code_tools = CodeTools(code, RemoteSandbox(code))
    tools = code_tools.tools()
    docs = DocumentTools(document_settings(settings), MediaModels(document_settings(settings)))
    tools += [t for t in docs.tools() if t.name in ("list_files", "read_document")]
    return WorkerSpec(worker_type="code", description=DESCRIPTION, tools=tools, system_prompt=SYSTEM_PROMPT,
                      requires_tool=True,  # an answer computed in the head is what this worker exists to avoid
                      file_tools=("list_files", "read_document"),  # without files, a small model reads "no files"
                      make_agent=(lambda llm, worker, s: CodeBlockAgent(llm, worker, s, code_tools.workdir))
                      if code.code_blocks() else None)
