"""Diagram interchange (BPMN DI) for models stored without it, so bpmn-js can draw them.

A layered left-to-right layout (Sugiyama style, kept small): back edges are found by a
depth-first search from the start events and ignored for layering; every node goes in the
layer of its longest path from a start; edges longer than one layer get waypoint cells in
the layers between, which take up a row like a node, so lines run through free cells; the
graph is cut into chains, longest first, and each chain is one straight row next to the
chain it branches from. Lines are orthogonal. Embedded subprocesses are drawn collapsed,
without their inner shapes; lanes are left out.

Input is trusted: the BPMN of a stored, validated model version."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from lxml import etree

from pathways.xmlsafe import parse_xml

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
DI = "http://www.omg.org/spec/DD/20100524/DI"

EVENTS = {"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent",
          "boundaryEvent"}
GATEWAYS = {"exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway",
            "complexGateway"}
ACTIVITIES = {"task", "userTask", "scriptTask", "serviceTask", "businessRuleTask",
              "manualTask", "sendTask", "receiveTask", "callActivity", "subProcess",
              "transaction", "adHocSubProcess"}
SIZES = {"event": (36, 36), "gateway": (50, 50), "activity": (100, 80)}
COLUMN = 150
"""Horizontal distance between layer centres: the widest shape (100) and room for arrows."""
ROW = 120
"""Vertical distance between row centres: the tallest shape (80) and a label below events."""
MARGIN = 80
BEND_SPREAD = 8
"""Distance between vertical line segments that share the gap between two columns."""


class NoSuchProcessError(ValueError):
    """The document does not define the process asked for."""


@dataclass
class _Node:
    id: str
    kind: str
    """event, gateway, activity, or waypoint (a cell an edge passes through)."""
    tag: str = ""
    order: int = 0
    layer: int = 0
    row: int = 0

    @property
    def size(self) -> tuple[int, int]:
        return SIZES.get(self.kind, (0, 0))

    @property
    def centre(self) -> tuple[float, float]:
        return MARGIN + self.layer * COLUMN, MARGIN + self.row * ROW


@dataclass
class _Edge:
    id: str
    source: str
    target: str
    back: bool = False
    path: list[str] = field(default_factory=list)
    """Node ids from the edge's start to its end, waypoint cells included."""


def add_diagram(xml: bytes, process_id: str | None = None) -> bytes:
    """The BPMN document with a generated BPMNDiagram for `process_id` (default: the first
    process). A document that already has a diagram for that process is returned as it is."""
    root = parse_xml(xml, "diagram.bpmn")
    process = _process(root, process_id)
    wanted = process.get("id")
    for plane in root.iter(f"{{{BPMNDI}}}BPMNPlane"):
        if plane.get("bpmnElement") == wanted:
            return xml
    nodes, edges = _graph(process)
    _mark_back_edges(nodes, edges)
    _assign_layers(nodes, edges)
    waypoints = _route_through_layers(nodes, edges)
    _assign_rows(nodes, edges, waypoints)
    root = _with_di_namespaces(root)
    root.append(_diagram(process, nodes, edges))
    text: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return text


def _process(root: etree._Element, process_id: str | None) -> etree._Element:
    for process in root.iter(f"{{{BPMN}}}process"):
        if process_id is None or process.get("id") == process_id:
            return process
    raise NoSuchProcessError(f"the document has no process {process_id or ''}".strip())


def _local(element: etree._Element) -> str:
    return str(etree.QName(element).localname)


def _graph(process: etree._Element) -> tuple[dict[str, _Node], list[_Edge]]:
    nodes: dict[str, _Node] = {}
    edges: list[_Edge] = []
    flows: list[etree._Element] = []
    for element in process:
        if not isinstance(element.tag, str):  # comments
            continue
        tag = _local(element)
        kind = ("event" if tag in EVENTS else "gateway" if tag in GATEWAYS
                else "activity" if tag in ACTIVITIES else None)
        if kind is not None and element.get("id"):
            nodes[element.get("id")] = _Node(element.get("id"), kind, tag, len(nodes))
        elif tag == "sequenceFlow":
            flows.append(element)
    for flow in flows:
        source, target = flow.get("sourceRef"), flow.get("targetRef")
        if source in nodes and target in nodes and flow.get("id"):
            edges.append(_Edge(flow.get("id"), source, target))
    # A boundary event sits on its activity: lay out what follows it from the activity.
    for element in process.iter(f"{{{BPMN}}}boundaryEvent"):
        host = element.get("attachedToRef")
        if element.get("id") in nodes and host in nodes:
            edges.append(_Edge("", host, element.get("id")))
    return nodes, edges


def _mark_back_edges(nodes: dict[str, _Node], edges: list[_Edge]) -> None:
    """Depth-first from the start events (then anything unreached), in document order: an
    edge to a node still on the stack closes a loop."""
    outgoing: dict[str, list[_Edge]] = {n: [] for n in nodes}
    incoming = {e.target for e in edges}
    for edge in edges:
        outgoing[edge.source].append(edge)
    starts = [n.id for n in nodes.values() if n.tag == "startEvent" and n.id not in incoming]
    state: dict[str, int] = {}  # 1: on the stack, 2: finished
    for start in [*starts, *nodes]:
        if start in state:
            continue
        state[start] = 1
        stack = [(start, iter(outgoing[start]))]
        while stack:
            node, remaining = stack[-1]
            step = next(remaining, None)
            if step is None:
                state[node] = 2
                stack.pop()
            elif state.get(step.target) == 1:
                step.back = True
            elif step.target not in state:
                state[step.target] = 1
                stack.append((step.target, iter(outgoing[step.target])))


def _assign_layers(nodes: dict[str, _Node], edges: list[_Edge]) -> None:
    """Longest path from a source, over the edges that are not back edges."""
    outgoing: dict[str, list[str]] = {n: [] for n in nodes}
    waiting = {n: 0 for n in nodes}
    for edge in edges:
        if not edge.back and edge.source != edge.target:
            outgoing[edge.source].append(edge.target)
            waiting[edge.target] += 1
    ready = [n for n in nodes if waiting[n] == 0]
    while ready:
        node = ready.pop()
        for target in outgoing[node]:
            nodes[target].layer = max(nodes[target].layer, nodes[node].layer + 1)
            waiting[target] -= 1
            if waiting[target] == 0:
                ready.append(target)


def _route_through_layers(nodes: dict[str, _Node], edges: list[_Edge]) -> list[_Node]:
    """Give every edge a path of one-layer steps, adding waypoint cells where it is longer.
    A back edge is routed as if reversed, then read backwards; its cells include the
    columns of its ends, so it runs on a row of its own."""
    waypoints: list[_Node] = []
    for edge in edges:
        if edge.source == edge.target:
            edge.path = [edge.source]
            continue
        first, last = (edge.target, edge.source) if edge.back else (edge.source, edge.target)
        path = [first]
        # A way back also takes the cells beside its two ends, where it turns into them.
        start, end = nodes[first].layer + (not edge.back), nodes[last].layer + edge.back
        name = edge.id or f"{edge.source}>{edge.target}"
        for layer in range(start, end):
            cell = _Node(f"{name}~{layer}", "waypoint", order=len(nodes) + len(waypoints),
                         layer=layer)
            waypoints.append(cell)
            path.append(cell.id)
        path.append(last)
        edge.path = path[::-1] if edge.back else path
    return waypoints


def _assign_rows(nodes: dict[str, _Node], edges: list[_Edge], waypoints: list[_Node]) -> None:
    """Cut the layered graph into chains (one cell per layer, each to the next), longest
    first, and give each chain the free row nearest the chain it branches from. A chain is
    a straight line; two chains share a row only where their layers do not overlap. A
    loop's way back is placed as soon as both its ends are, so it runs right beside them."""
    cells = {**nodes, **{w.id: w for w in waypoints}}
    before: dict[str, list[str]] = {c: [] for c in cells}
    after: dict[str, list[str]] = {c: [] for c in cells}
    for edge in edges:
        steps = edge.path[::-1] if edge.back else edge.path
        for a, b in zip(steps, steps[1:], strict=False):
            if a != b:
                before[b].append(a)
                after[a].append(b)
    loops = [e for e in edges if e.back and len(e.path) > 1]
    loop_cells = {c for e in loops for c in e.path[1:-1]}
    weight = _shapes_on_longest_chain(cells, before, after)
    rows: dict[str, int] = {}
    used: dict[int, list[tuple[int, int]]] = {}
    taken: set[tuple[int, int]] = set()

    def place(chain: list[str], looping: bool) -> None:
        anchors = [c for c in (*before[chain[0]], *after[chain[-1]]) if c in rows]
        anchor = max(anchors, key=lambda c: weight[c], default=None)
        span = (cells[chain[0]].layer, cells[chain[-1]].layer)
        row = _free_row(rows[anchor] if anchor else 0, span, used, taken if looping else None)
        used.setdefault(row, []).append(span)
        for cell in chain:
            rows[cell] = row
            taken.add((cells[cell].layer, row))

    def best(options: list[str], shapes: bool) -> str | None:
        """The heaviest free cell of the same kind: a chain of shapes stops where a line
        through empty layers begins (lines are placed after every shape)."""
        options = [o for o in options if o not in rows and o not in loop_cells
                   and (cells[o].kind != "waypoint") == shapes]
        return max(options, key=lambda o: (weight[o], -cells[o].order), default=None)

    seeds = sorted((c for c in cells if c not in loop_cells),
                   key=lambda c: (cells[c].kind == "waypoint", -weight[c], cells[c].order))
    for seed in seeds:
        if seed in rows:
            continue
        chain, shapes = [seed], cells[seed].kind != "waypoint"
        while (following := best(after[chain[-1]], shapes)) and following not in chain:
            chain.append(following)
        while (leading := best(before[chain[0]], shapes)) and leading not in chain:
            chain.insert(0, leading)
        place(chain, looping=False)
        for loop in [e for e in loops if e.path[0] in rows and e.path[-1] in rows]:
            loops.remove(loop)
            place(loop.path[1:-1][::-1], looping=True)
    lowest = min(rows.values(), default=0)
    for cell_id, cell in cells.items():
        cell.row = rows[cell_id] - lowest
    nodes.update({w.id: w for w in waypoints})


def _shapes_on_longest_chain(cells: dict[str, _Node], before: dict[str, list[str]],
                             after: dict[str, list[str]]) -> dict[str, int]:
    """How many shapes the longest chain through each cell passes (a trunk has the most)."""
    layered = sorted(cells, key=lambda c: cells[c].layer)
    shape = {c: int(cells[c].kind != "waypoint") for c in cells}
    depth: dict[str, int] = {}
    for c in layered:
        depth[c] = shape[c] + max((depth[p] for p in before[c] if p in depth), default=0)
    height: dict[str, int] = {}
    for c in reversed(layered):
        height[c] = shape[c] + max((height[n] for n in after[c] if n in height), default=0)
    return {c: depth[c] + height[c] - shape[c] for c in cells}


def _free_row(start: int, span: tuple[int, int], used: dict[int, list[tuple[int, int]]],
              taken: set[tuple[int, int]] | None) -> int:
    """The row nearest `start` where nothing else is in the layers of `span`. With `taken`
    (a loop's way back), the end columns must also be free between `start` and that row,
    where the line turns into the loop's ends, if any such row is near."""

    def free(row: int) -> bool:
        return all(span[1] < first or span[0] > last for first, last in used.get(row, []))

    def reachable(row: int) -> bool:
        step = 1 if row > start else -1
        return taken is None or all((layer, between) not in taken
                                    for layer in span
                                    for between in range(start + step, row, step))

    nearest = [r for distance in range(len(used) + 2) for r in (start + distance,
                                                               start - distance)]
    return next((r for r in nearest if free(r) and reachable(r)),
                next(r for r in nearest if free(r)))


def _with_di_namespaces(root: etree._Element) -> etree._Element:
    """A copy of the root that declares the DI prefixes (lxml cannot add them in place)."""
    nsmap = {**root.nsmap, "bpmndi": BPMNDI, "dc": DC, "di": DI}
    copy = etree.Element(root.tag, attrib=dict(root.attrib), nsmap=nsmap)
    copy.text = root.text
    for child in list(root):
        copy.append(child)
    return copy


def _diagram(process: etree._Element, nodes: dict[str, _Node],
             edges: list[_Edge]) -> etree._Element:
    diagram = etree.Element(f"{{{BPMNDI}}}BPMNDiagram", id=f"{process.get('id')}_diagram")
    plane = etree.SubElement(diagram, f"{{{BPMNDI}}}BPMNPlane",
                             id=f"{process.get('id')}_plane", bpmnElement=process.get("id"))
    for node in nodes.values():
        if node.kind == "waypoint":
            continue
        shape = etree.SubElement(plane, f"{{{BPMNDI}}}BPMNShape", id=f"{node.id}_di",
                                 bpmnElement=node.id)
        if node.tag == "exclusiveGateway":
            shape.set("isMarkerVisible", "true")
        if node.tag in ("subProcess", "transaction", "adHocSubProcess"):
            shape.set("isExpanded", "false")
        (x, y), (width, height) = node.centre, node.size
        etree.SubElement(shape, f"{{{DC}}}Bounds", x=_n(x - width / 2), y=_n(y - height / 2),
                         width=_n(width), height=_n(height))
    taken = {(n.layer, n.row) for n in nodes.values()}
    shapes = {(n.layer, n.row) for n in nodes.values() if n.kind != "waypoint"}
    bends: dict[int, int] = {}
    for edge in edges:
        if not edge.id:
            continue
        shape = etree.SubElement(plane, f"{{{BPMNDI}}}BPMNEdge", id=f"{edge.id}_di",
                                 bpmnElement=edge.id)
        for x, y in _waypoints(nodes, edge, taken, shapes, bends):
            etree.SubElement(shape, f"{{{DI}}}waypoint", x=_n(x), y=_n(y))
    return diagram


def _waypoints(nodes: dict[str, _Node], edge: _Edge, taken: set[tuple[int, int]],
               shapes: set[tuple[int, int]], bends: dict[int, int]) -> list[tuple[float, float]]:
    """Orthogonal points from the source's border to the target's border. A line leaves a
    splitting gateway (or a loop's end) from its top or bottom and enters a joining gateway
    (or a loop's start) the same way, when no other cell is in that column between the two
    rows; otherwise it bends halfway between the columns."""
    cells = [nodes[c] for c in edge.path]
    if len(cells) == 1:  # a node that loops to itself: out of the top, back in the bottom
        (x, y), (_, height) = cells[0].centre, cells[0].size
        return [(x, y - height / 2), (x, y - height / 2 - 20), (x + 70, y - height / 2 - 20),
                (x + 70, y + height / 2 + 20), (x, y + height / 2 + 20), (x, y + height / 2)]

    def clear(layer: int, start: int, end: int) -> bool:
        """Nothing at the corner (layer, end), and no shape between it and the gateway:
        crossing another line is fine, running along it is not."""
        step = 1 if end > start else -1
        return (layer, end) not in taken and all(
            (layer, row) not in shapes for row in range(start + step, end, step))

    points: list[tuple[float, float]] = [cells[0].centre]
    for index, (a, b) in enumerate(zip(cells, cells[1:], strict=False)):
        (ax, ay), (bx, by) = a.centre, b.centre
        if ay != by:
            if index == 0 and (edge.back or a.kind == "gateway"
                               and clear(a.layer, a.row, b.row)):
                points.append((ax, by))
            elif index == len(cells) - 2 and (edge.back or b.kind == "gateway"
                                              and clear(b.layer, b.row, a.row)):
                points.append((bx, ay))
            else:  # lines bending in the same gap are spread out, not drawn on top
                used = bends[min(a.layer, b.layer)] = bends.get(min(a.layer, b.layer), 0) + 1
                middle = (ax + bx) / 2 + ((used + 2) % 5 - 2) * BEND_SPREAD
                points += [(middle, ay), (middle, by)]
        points.append((bx, by))
    points[0] = _border(cells[0], points[1])
    points[-1] = _border(cells[-1], points[-2])
    return _simplified(points)


def _border(node: _Node, towards: tuple[float, float]) -> tuple[float, float]:
    (x, y), (width, height) = node.centre, node.size
    if towards[1] == y:
        return (x + width / 2 if towards[0] > x else x - width / 2), y
    return x, (y + height / 2 if towards[1] > y else y - height / 2)


def _simplified(points: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """Without repeated points and without middle points of straight runs."""
    kept: list[tuple[float, float]] = []
    for point in points:
        if kept and kept[-1] == point:
            continue
        if len(kept) >= 2 and (kept[-2][0] == kept[-1][0] == point[0]
                               or kept[-2][1] == kept[-1][1] == point[1]):
            kept[-1] = point
            continue
        kept.append(point)
    return kept


def _n(value: float) -> str:
    return f"{value:g}"
