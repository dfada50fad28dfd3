"""Every shipped BPMN file carries its diagram (BPMN DI), so bpmn-js draws it as it was laid
out: a shape of standard size for every flow node and lane, an orthogonal edge for every
sequence flow from its source's border to its target's, no shapes on top of each other, and
every laned node inside its lane's band."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest
from lxml import etree

from .conftest import BETTERBACK_DIR

BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
BPMNDI = "{http://www.omg.org/spec/BPMN/20100524/DI}"
DC = "{http://www.omg.org/spec/DD/20100524/DC}"
DI = "{http://www.omg.org/spec/DD/20100524/DI}"
SIZES = {"startEvent": (36, 36), "endEvent": (36, 36), "intermediateCatchEvent": (36, 36),
         "boundaryEvent": (36, 36), "exclusiveGateway": (50, 50), "parallelGateway": (50, 50),
         "userTask": (100, 80), "scriptTask": (100, 80), "businessRuleTask": (100, 80),
         "callActivity": (100, 80)}
Box = tuple[float, float, float, float]


def bounds(element: etree._Element) -> Box:
    b = element.find(f"{DC}Bounds")
    return float(b.get("x")), float(b.get("y")), float(b.get("width")), float(b.get("height"))


def inside(a: Box, b: Box) -> bool:
    return b[0] <= a[0] and b[1] <= a[1] and a[0] + a[2] <= b[0] + b[2] \
        and a[1] + a[3] <= b[1] + b[3]


def on_border(point: tuple[float, float], box: Box) -> bool:
    x, y = point
    left, top, right, bottom = box[0], box[1], box[0] + box[2], box[1] + box[3]
    on_a_side = x in (left, right) and top <= y <= bottom
    on_top_or_bottom = y in (top, bottom) and left <= x <= right
    return on_a_side or on_top_or_bottom


@pytest.mark.parametrize("path", sorted(BETTERBACK_DIR.glob("*.bpmn")), ids=lambda p: p.name)
def test_a_shipped_model_carries_its_diagram(path: Path) -> None:
    root = etree.parse(str(path)).getroot()
    process = root.find(f"{BPMN}process")
    plane = root.find(f"{BPMNDI}BPMNDiagram/{BPMNDI}BPMNPlane")
    assert plane is not None and plane.get("bpmnElement") == process.get("id")
    shapes = {s.get("bpmnElement"): s for s in plane.iter(f"{BPMNDI}BPMNShape")}
    edges = {e.get("bpmnElement"): e for e in plane.iter(f"{BPMNDI}BPMNEdge")}

    nodes = {n.get("id"): n for n in process.iter(etree.Element)
             if etree.QName(n).localname in SIZES or n.tag == f"{BPMN}subProcess"}
    lanes = {lane.get("id"): lane for lane in process.iter(f"{BPMN}lane")}
    flows = {f.get("id"): f for f in process.iter(f"{BPMN}sequenceFlow")}
    assert set(shapes) == set(nodes) | set(lanes)
    assert set(edges) == set(flows)

    for node_id, node in nodes.items():
        box = bounds(shapes[node_id])
        if node.tag == f"{BPMN}subProcess":
            assert shapes[node_id].get("isExpanded") == "true"
            assert all(inside(bounds(shapes[c.get("id")]), box) for c in node
                       if c.get("id") in nodes), f"{node_id}'s steps lie inside it"
        else:
            assert box[2:] == SIZES[etree.QName(node).localname], node_id
    for lane_id, lane in lanes.items():
        assert shapes[lane_id].get("isHorizontal") == "true"
        band = bounds(shapes[lane_id])
        for ref in lane.iter(f"{BPMN}flowNodeRef"):
            assert inside(bounds(shapes[ref.text]), band), f"{ref.text} lies in {lane_id}"

    drawn = [(i, bounds(shapes[i])) for i in nodes if nodes[i].tag != f"{BPMN}subProcess"]
    overlapping = [(a, b) for n, (a, p) in enumerate(drawn) for b, q in drawn[n + 1:]
                   if p[0] < q[0] + q[2] and q[0] < p[0] + p[2]
                   and p[1] < q[1] + q[3] and q[1] < p[1] + p[3]]
    assert overlapping == []

    for flow_id, flow in flows.items():
        points = [(float(p.get("x")), float(p.get("y")))
                  for p in edges[flow_id].iter(f"{DI}waypoint")]
        assert len(points) >= 2
        assert all(a[0] == b[0] or a[1] == b[1] for a, b in pairwise(points)), \
            f"{flow_id} runs only across and up or down"
        assert on_border(points[0], bounds(shapes[flow.get("sourceRef")])), flow_id
        assert on_border(points[-1], bounds(shapes[flow.get("targetRef")])), flow_id
