"""Where the monitor draws nodes: an export's own positions, else columns by depth."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from backend.data.graph import Graph, Link, Node
from backend.server.ui.layout import BOX_HEIGHT, BOX_WIDTH, MARGIN, draw
from tests.autogpt_data import AGENTS_DIR, needs_autogpt_data
from tests.graphs import AGENT_INPUT, AGENT_OUTPUT, WAIT, wait_chain

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def _apart(graph: Graph) -> bool:
    boxes = draw(graph).boxes
    return all(
        abs(a.x - b.x) >= BOX_WIDTH or abs(a.y - b.y) >= BOX_HEIGHT
        for a, b in itertools.combinations(boxes, 2)
    )


def test_an_autogpt_export_keeps_its_layout_without_overlaps() -> None:
    graph = Graph.from_json(json.loads((FIXTURES / "ref4_calculator.json").read_text()))
    drawing = draw(graph)
    xs = [box.x for box in drawing.boxes]
    assert xs == sorted(xs) and xs[0] == MARGIN  # left to right, as the author placed them
    assert _apart(graph)
    assert len(drawing.edges) == len(graph.links)
    assert drawing.width >= max(xs) + BOX_WIDTH


def test_a_graph_without_positions_is_laid_out_in_columns() -> None:
    drawing = draw(wait_chain(3, 0))
    columns = sorted({box.x for box in drawing.boxes})
    assert len(columns) == 5  # in -> w0 -> w1 -> w2 -> out
    assert {box.y for box in drawing.boxes} == {MARGIN}


def test_branches_share_a_column_and_loops_still_get_a_place() -> None:
    nodes = [
        Node(id="in", block_id=AGENT_INPUT, input_default={"name": "x"}),
        Node(id="a", block_id=WAIT),
        Node(id="b", block_id=WAIT),
        Node(id="loop1", block_id=WAIT),
        Node(id="loop2", block_id=WAIT),
        Node(id="out", block_id=AGENT_OUTPUT, input_default={"name": "out"}),
    ]
    links = [
        Link(source_id="in", source_name="result", sink_id="a", sink_name="input"),
        Link(source_id="in", source_name="result", sink_id="b", sink_name="input"),
        Link(source_id="a", source_name="output", sink_id="out", sink_name="value"),
        Link(source_id="loop1", source_name="output", sink_id="loop2", sink_name="input"),
        Link(source_id="loop2", source_name="output", sink_id="loop1", sink_name="input"),
    ]
    graph = Graph(name="g", nodes=nodes, links=links)
    spot = {box.node_id: (box.x, box.y) for box in draw(graph).boxes}
    assert spot["a"][0] == spot["b"][0] and spot["a"][1] != spot["b"][1]
    assert spot["loop1"][0] == spot["loop2"][0] > spot["out"][0]
    assert _apart(graph)


def test_labels_are_shortened_and_nodes_without_a_name_show_their_id() -> None:
    long = "x" * 80
    graph = Graph(
        name="g",
        nodes=[
            Node(id="in", block_id=AGENT_INPUT, input_default={"name": long}),
            Node(id="abcdef1234", block_id=WAIT, metadata={"position": {"x": 1, "y": 2}}),
        ],
    )
    boxes = {box.node_id: box for box in draw(graph).boxes}
    assert len(boxes["in"].subtitle) < 30 and boxes["in"].subtitle.endswith("…")
    assert boxes["abcdef1234"].subtitle == "node abcdef12"


@needs_autogpt_data
@pytest.mark.parametrize(
    "path",
    sorted(AGENTS_DIR.glob("*.json")) if AGENTS_DIR.is_dir() else [],
    ids=lambda p: p.stem[:14],
)
def test_every_shipped_agent_is_drawn_without_overlaps(path: Path) -> None:
    export = json.loads(path.read_text())
    for data in [export, *export.get("sub_graphs", [])]:
        graph = Graph.from_json(data)
        drawing = draw(graph)
        assert len(drawing.boxes) == len(graph.nodes)
        assert _apart(graph), graph.name
        assert drawing.width < 20_000 and drawing.height < 20_000
