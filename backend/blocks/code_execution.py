"""ExecuteCodeBlock: AutoGPT's code execution in an E2B sandbox (same id, pins, defaults).

The code runs on E2B's machines, never here: the graph author's code is E2B's to
contain. The sandbox lives at most ``timeout`` seconds and, with ``dispose_sandbox``
(the default), is killed as soon as the node ends; the run itself is bounded by the
node's time limit.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic import Field

from backend.providers.e2b_sandbox import CodeRun, run_code

from .base import BlockContext, BlockOutput, BlockSchema, TestVector
from .service_base import CredentialsRef, ServiceBlock, credentials_field


class ProgrammingLanguage(Enum):
    PYTHON = "python"
    JAVASCRIPT = "js"
    BASH = "bash"
    R = "r"
    JAVA = "java"


NO_KEY = (
    "this block needs an API key for provider e2b: give the node a credential for it "
    "or set the operator's default key"
)


class ExecuteCodeBlock(ServiceBlock):
    """Runs code in a fresh E2B sandbox after optional setup commands.

    Outputs as AutoGPT: ``main_result`` (when the code has one), ``results`` (every
    result's non-empty formats), then ``response``, ``stdout_logs`` and ``stderr_logs``
    when not empty. An exception in the code comes out on ``error`` as "NAME: value".
    """

    id = "0b02b072-abe7-11ef-8372-fb5d162dd712"
    description = "Executes code in an isolated E2B sandbox with internet access."
    categories = ("DEVELOPER_TOOLS",)
    provider = "e2b"

    class Input(BlockSchema):
        credentials: CredentialsRef = credentials_field("E2B")
        setup_commands: list[str] = Field(
            default_factory=list,
            description="Shell commands run in the sandbox before the code (pip and npm "
            "are there), one after the other.",
        )
        code: str = Field("", description="Code to execute in the sandbox.")
        language: ProgrammingLanguage = Field(
            ProgrammingLanguage.PYTHON, description="Programming language of the code."
        )
        timeout: int = Field(300, description="Seconds the sandbox may live.")
        dispose_sandbox: bool = Field(
            True, description="Kill the sandbox right after the code ran (else at its timeout)."
        )
        template_id: str = Field(
            "", description="An E2B sandbox template id; empty: E2B's code interpreter."
        )

    class Output(BlockSchema):
        main_result: dict[str, Any] = Field(
            title="Main Result", description="The main result of the code."
        )
        results: list[dict[str, Any]] = Field(description="Every result of the code.")
        response: str = Field(
            title="Main Text Output", description="Text of the main result, if any."
        )
        stdout_logs: str = Field(description="What the code printed to standard output.")
        stderr_logs: str = Field(description="What the code printed to standard error.")

    test_vectors = (TestVector({"code": "print('Hello World')"}, [("error", NO_KEY)]),)

    async def outputs(self, pins: Input, ctx: BlockContext) -> BlockOutput:
        run = CodeRun(
            code=pins.code,
            language=pins.language.value,
            template=pins.template_id,
            setup_commands=tuple(pins.setup_commands),
            sandbox_timeout=pins.timeout,
            dispose=pins.dispose_sandbox,
        )
        result = await run_code(self.clients(ctx), self.api_key(ctx), run, ctx.deadline)
        if result.main_result:
            yield "main_result", result.main_result
        yield "results", result.results
        if result.text:
            yield "response", result.text
        if result.stdout:
            yield "stdout_logs", result.stdout
        if result.stderr:
            yield "stderr_logs", result.stderr
