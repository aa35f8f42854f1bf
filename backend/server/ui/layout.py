"""Where the run page draws each node: the graph's own positions, else columns.

AutoGPT exports carry each node's ``metadata.position`` ({x, y}, the builder's canvas);
a graph whose every node has one is drawn as its author laid it out. Any other graph is
laid out in columns by depth (the longest chain of links leading to a node), nodes in a
loop placed after the rest. Pure functions of the graph: no I/O.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from backend.blocks import get_block
from backend.data.graph import Graph, Node

BOX_WIDTH = 220
BOX_HEIGHT = 64
MARGIN = 24
COLUMN_GAP = 300
ROW_GAP = 100
# AutoGPT's canvas has its own node sizes: it is scaled so that no two of our boxes
# overlap (with these gaps at least), within these bounds.
GAP_X, GAP_Y = 80.0, 30.0
SCALE_BOUNDS = (0.3, 4.0)
# Beyond this many nodes the pairwise check is skipped (drawn at scale 1).
MAX_SCALED_NODES = 400
LABEL_CHARS = 24


@dataclass(frozen=True)
class Box:
    node_id: str
    x: float
    y: float
    title: str
    subtitle: str


@dataclass(frozen=True)
class Edge:
    source_id: str
    sink_id: str
    path: str
    label: str


@dataclass(frozen=True)
class Drawing:
    width: float
    height: float
    boxes: tuple[Box, ...]
    edges: tuple[Edge, ...]


def shorten(text: str, limit: int = LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def node_title(node: Node) -> str:
    block = get_block(node.block_id)
    return (block.name or type(block).__name__) if block is not None else node.block_id


def node_subtitle(node: Node) -> str:
    """The name its author gave it (AutoGPT's ``customized_name``), or its pin name."""
    candidates = (
        node.metadata.get("customized_name"),
        node.input_default.get("name"),
        node.input_default.get("title"),
    )
    for value in candidates:
        if isinstance(value, str) and value:
            return value
    return f"node {node.id[:8]}"


def _position(node: Node) -> tuple[float, float] | None:
    pos = node.metadata.get("position")
    if not isinstance(pos, dict):
        return None
    x, y = pos.get("x"), pos.get("y")
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (x, y))
    if not numbers:
        return None
    return float(x), float(y)  # type: ignore[arg-type]


def _scale(points: list[tuple[float, float]]) -> float:
    """The smallest scale at which boxes at ``points`` are all apart, within bounds."""
    if len(points) > MAX_SCALED_NODES:
        return 1.0
    need = SCALE_BOUNDS[0]
    for i, (ax, ay) in enumerate(points):
        for bx, by in points[i + 1 :]:
            dx, dy = abs(ax - bx), abs(ay - by)
            apart_x = (BOX_WIDTH + GAP_X) / dx if dx else float("inf")
            apart_y = (BOX_HEIGHT + GAP_Y) / dy if dy else float("inf")
            need = max(need, min(apart_x, apart_y))
    return min(need, SCALE_BOUNDS[1])


def _columns(graph: Graph) -> dict[str, tuple[float, float]]:
    ids = [node.id for node in graph.nodes]
    incoming: dict[str, set[str]] = {i: set() for i in ids}
    outgoing: dict[str, set[str]] = defaultdict(set)
    for link in graph.links:
        ends = (link.source_id, link.sink_id)
        if all(end in incoming for end in ends) and link.source_id != link.sink_id:
            incoming[link.sink_id].add(link.source_id)
            outgoing[link.source_id].add(link.sink_id)
    depth = dict.fromkeys(ids, 0)
    waiting = {i: len(incoming[i]) for i in ids}
    ready = [i for i in ids if waiting[i] == 0]
    placed: list[str] = []
    while ready:
        current = ready.pop(0)
        placed.append(current)
        for sink in sorted(outgoing[current]):
            depth[sink] = max(depth[sink], depth[current] + 1)
            waiting[sink] -= 1
            if waiting[sink] == 0:
                ready.append(sink)
    last = max((depth[i] for i in placed), default=-1)
    for node_id in ids:  # in a loop: after everything else, in one column
        if node_id not in placed:
            depth[node_id] = last + 1
    rows: dict[int, int] = defaultdict(int)
    positions: dict[str, tuple[float, float]] = {}
    for node_id in ids:
        column = depth[node_id]
        positions[node_id] = (column * COLUMN_GAP, rows[column] * ROW_GAP)
        rows[column] += 1
    return positions


def _same(text: str) -> str:
    return text


def draw(graph: Graph, mask: Callable[[str], str] = _same) -> Drawing:
    """The drawing; every label passes through ``mask`` (a run's secret masking)."""
    given = {node.id: _position(node) for node in graph.nodes}
    if given and all(p is not None for p in given.values()):
        canvas = {k: p for k, p in given.items() if p is not None}
        scale = _scale(list(canvas.values()))
        raw = {k: (x * scale, y * scale) for k, (x, y) in canvas.items()}
    else:
        raw = _columns(graph)
    min_x = min((p[0] for p in raw.values()), default=0.0)
    min_y = min((p[1] for p in raw.values()), default=0.0)
    spot = {k: (x - min_x + MARGIN, y - min_y + MARGIN) for k, (x, y) in raw.items()}
    boxes = tuple(
        Box(
            node.id,
            spot[node.id][0],
            spot[node.id][1],
            shorten(mask(node_title(node))),
            shorten(mask(node_subtitle(node))),
        )
        for node in graph.nodes
    )
    edges = []
    for link in graph.links:
        if link.source_id not in spot or link.sink_id not in spot:
            continue
        sx, sy = spot[link.source_id]
        tx, ty = spot[link.sink_id]
        x1, y1 = sx + BOX_WIDTH, sy + BOX_HEIGHT / 2
        x2, y2 = tx, ty + BOX_HEIGHT / 2
        bend = max(40.0, abs(x2 - x1) / 2)
        path = (
            f"M{x1:.0f},{y1:.0f} "
            f"C{x1 + bend:.0f},{y1:.0f} {x2 - bend:.0f},{y2:.0f} {x2:.0f},{y2:.0f}"
        )
        label = mask(f"{link.source_name} → {link.sink_name}")
        edges.append(Edge(link.source_id, link.sink_id, path, label))
    width = max((b.x for b in boxes), default=0.0) + BOX_WIDTH + MARGIN
    height = max((b.y for b in boxes), default=0.0) + BOX_HEIGHT + MARGIN
    return Drawing(width, height, boxes, tuple(edges))
