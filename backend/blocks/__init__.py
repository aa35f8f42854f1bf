"""The block registry: built-in blocks plus third-party blocks from entry points.

A plugin distribution declares its blocks in the ``agent_server.blocks`` entry point
group, each entry naming a ``Block`` subclass, for example in ``pyproject.toml``::

    [project.entry-points."agent_server.blocks"]
    my_block = "my_package.blocks:MyBlock"

The registry loads once, on first use. A plugin that fails to import, is not a Block
or clashes with a registered id is logged and skipped: one broken plugin must not
stop the server.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points

from .agent import AgentExecutorBlock
from .airtable import AirtableCreateBaseBlock, AirtableCreateRecordsBlock
from .base import Block
from .basic import (
    AgentInputBlock,
    AgentOutputBlock,
    NoteBlock,
    PrintToConsoleBlock,
    StoreValueBlock,
)
from .code_execution import ExecuteCodeBlock
from .conversion import UniversalTypeConverterBlock
from .data_structures import (
    AddToDictionaryBlock,
    AddToListBlock,
    CreateDictionaryBlock,
    CreateListBlock,
    FindInDictionaryBlock,
    StepThroughItemsBlock,
)
from .dataforseo import DataForSeoKeywordSuggestionsBlock, DataForSeoRelatedKeywordsBlock
from .dates import GetCurrentDateAndTimeBlock, GetCurrentDateBlock, GetCurrentTimeBlock
from .firecrawl import FirecrawlCrawlBlock, FirecrawlExtractBlock, FirecrawlMapWebsiteBlock
from .gmail import (
    GmailAddLabelBlock,
    GmailForwardBlock,
    GmailReadBlock,
    GmailReplyBlock,
    GmailSendBlock,
)
from .google_calendar import GoogleCalendarReadEventsBlock
from .google_maps import GoogleMapsSearchBlock
from .ideogram import IdeogramModelBlock
from .io import AGENT_INPUT_VARIANTS
from .jina import ExtractWebsiteContentBlock, SearchTheWebBlock
from .lists import GetListItemBlock, ListIsEmptyBlock, RemoveFromListBlock
from .llm import (
    AIConversationBlock,
    AIListGeneratorBlock,
    AIStructuredResponseGeneratorBlock,
    AITextGeneratorBlock,
    AITextSummarizerBlock,
)
from .logic import ConditionBlock, IfInputMatchesBlock
from .maths import CalculatorBlock, CountItemsBlock
from .orchestrator import OrchestratorBlock
from .replicate_images import AIImageGeneratorBlock, ReplicateFluxAdvancedModelBlock
from .revid import AIShortformVideoCreatorBlock
from .storage import PersistInformationBlock, RetrieveInformationBlock
from .text import (
    CombineTextsBlock,
    ExtractTextInformationBlock,
    FillTextTemplateBlock,
    MatchTextPatternBlock,
    TextReplaceBlock,
    TextSplitBlock,
)
from .timing import CountdownTimerBlock, WaitBlock
from .web import SendWebRequestBlock
from .wordpress import WordPressCreatePostBlock
from .xml import XMLParserBlock
from .youtube import TranscribeYoutubeVideoBlock

ENTRY_POINT_GROUP = "agent_server.blocks"

BUILTIN_BLOCKS: tuple[type[Block], ...] = (
    StoreValueBlock,
    PrintToConsoleBlock,
    NoteBlock,
    AgentInputBlock,
    *AGENT_INPUT_VARIANTS,
    AgentOutputBlock,
    AgentExecutorBlock,
    PersistInformationBlock,
    RetrieveInformationBlock,
    FillTextTemplateBlock,
    MatchTextPatternBlock,
    ExtractTextInformationBlock,
    CombineTextsBlock,
    TextSplitBlock,
    TextReplaceBlock,
    CalculatorBlock,
    CountItemsBlock,
    ConditionBlock,
    IfInputMatchesBlock,
    UniversalTypeConverterBlock,
    XMLParserBlock,
    CreateDictionaryBlock,
    AddToDictionaryBlock,
    FindInDictionaryBlock,
    CreateListBlock,
    AddToListBlock,
    GetListItemBlock,
    RemoveFromListBlock,
    ListIsEmptyBlock,
    StepThroughItemsBlock,
    GetCurrentTimeBlock,
    GetCurrentDateBlock,
    GetCurrentDateAndTimeBlock,
    WaitBlock,
    CountdownTimerBlock,
    SendWebRequestBlock,
    AITextGeneratorBlock,
    AIStructuredResponseGeneratorBlock,
    AIListGeneratorBlock,
    AITextSummarizerBlock,
    AIConversationBlock,
    OrchestratorBlock,
    IdeogramModelBlock,
    ReplicateFluxAdvancedModelBlock,
    AIImageGeneratorBlock,
    AIShortformVideoCreatorBlock,
    ExecuteCodeBlock,
    SearchTheWebBlock,
    ExtractWebsiteContentBlock,
    GoogleMapsSearchBlock,
    FirecrawlMapWebsiteBlock,
    FirecrawlCrawlBlock,
    FirecrawlExtractBlock,
    TranscribeYoutubeVideoBlock,
    DataForSeoKeywordSuggestionsBlock,
    DataForSeoRelatedKeywordsBlock,
    AirtableCreateBaseBlock,
    AirtableCreateRecordsBlock,
    GmailReadBlock,
    GmailSendBlock,
    GmailAddLabelBlock,
    GmailReplyBlock,
    GmailForwardBlock,
    GoogleCalendarReadEventsBlock,
    WordPressCreatePostBlock,
)

__all__ = [
    "BUILTIN_BLOCKS",
    "ENTRY_POINT_GROUP",
    "all_blocks",
    "get_block",
    "load_entry_points",
    "register_block",
    "unregister_block",
]

logger = logging.getLogger(__name__)

_lock = threading.RLock()
_registry: dict[str, Block] = {}
_loaded = False


def all_blocks() -> dict[str, Block]:
    """Every registered block by id (a copy; register with ``register_block``)."""
    _ensure_loaded()
    with _lock:
        return dict(_registry)


def get_block(block_id: str) -> Block | None:
    _ensure_loaded()
    # No lock: a dict lookup is atomic, and this runs several times per node execution
    # (writers still take the lock, so they never interleave with each other).
    return _registry.get(block_id)


def register_block(cls: type[Block]) -> Block:
    """Register a Block subclass and return its instance.

    Registering the same class again returns the existing instance; another class
    with an id already in use raises ``ValueError``.
    """
    _ensure_loaded()
    return _add(cls)


def unregister_block(block_id: str) -> None:
    """Remove a block from the registry (tests and plugin reloads); unknown ids are ignored."""
    _ensure_loaded()
    with _lock:
        _registry.pop(block_id, None)


def load_entry_points(eps: Iterable[EntryPoint] | None = None) -> list[str]:
    """Register the blocks the given (default: installed) entry points name.

    Returns the ids registered; failures are logged and skipped.
    """
    if eps is None:
        eps = entry_points(group=ENTRY_POINT_GROUP)
    registered: list[str] = []
    for ep in eps:
        try:
            loaded = ep.load()
            block = _add(loaded)
        except Exception:
            logger.exception("skipping block plugin %r (%s)", ep.name, ep.value)
            continue
        registered.append(block.id)
    return registered


def _ensure_loaded() -> None:
    global _loaded
    if _loaded:
        return
    with _lock:
        if _loaded:
            return
        for cls in BUILTIN_BLOCKS:
            _add(cls)
        # Marked loaded before plugins so a plugin calling register_block at import
        # time does not re-enter this loading.
        _loaded = True
        load_entry_points()


def _add(cls: object) -> Block:
    if not (isinstance(cls, type) and issubclass(cls, Block)):
        raise TypeError(f"{cls!r} is not a Block subclass")
    block_id = getattr(cls, "id", None)
    if not isinstance(block_id, str) or not block_id:
        raise ValueError(f"block {cls.__name__} has no id")
    with _lock:
        existing = _registry.get(block_id)
        if existing is not None:
            if type(existing) is cls:
                return existing
            raise ValueError(
                f"block id {block_id} of {cls.__qualname__} is already used by "
                f"{type(existing).__qualname__}"
            )
        block = cls()
        _registry[block_id] = block
        return block
