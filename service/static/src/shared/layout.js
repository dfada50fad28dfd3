// BPMN files stored without diagram interchange (DI: shapes and their positions) get a layout
// before bpmn-js draws them: carepath's models are often written by hand, as text.
import { layoutProcess } from 'bpmn-auto-layout';

const BPMN = 'http://www.omg.org/spec/BPMN/20100524/MODEL';
const BPMNDI = 'http://www.omg.org/spec/BPMN/20100524/DI';

/**
 * True when bpmn-js would draw nothing: no diagram for the collaboration, or for the first
 * process when there is no collaboration (bpmn-js draws that one). XML that does not parse is
 * left to bpmn-js, whose error says what is wrong.
 */
export function needsLayout(xml) {
  const doc = new DOMParser().parseFromString(xml, 'application/xml');
  if (doc.getElementsByTagName('parsererror').length) { return false; }
  const drawn = new Set(Array.from(doc.getElementsByTagNameNS(BPMNDI, 'BPMNPlane'),
    (plane) => plane.getAttribute('bpmnElement')));
  const roots = Array.from(doc.documentElement.children)
    .filter((element) => element.namespaceURI === BPMN);
  const root = roots.find((element) => element.localName === 'collaboration') ||
    roots.find((element) => element.localName === 'process');
  return Boolean(root) && !drawn.has(root.getAttribute('id'));
}

/**
 * `{xml, laidOut}`: the XML itself when it has a diagram, else the same XML with the diagram
 * bpmn-auto-layout draws for it (first process). Only the diagram is taken from the layout:
 * bpmn-auto-layout writes the whole model back through plain bpmn-moddle, which drops what
 * only carepath's descriptor reads (a multi-instance task's loop data names, see
 * loop-refs.js).
 */
export async function withLayout(xml) {
  if (!needsLayout(xml)) { return { xml, laidOut: false }; }
  const laidOut = new DOMParser().parseFromString(await layoutProcess(xml), 'application/xml');
  const doc = new DOMParser().parseFromString(xml, 'application/xml');
  for (const diagram of Array.from(laidOut.getElementsByTagNameNS(BPMNDI, 'BPMNDiagram'))) {
    doc.documentElement.appendChild(doc.importNode(diagram, true));
  }
  return { xml: new XMLSerializer().serializeToString(doc), laidOut: true };
}

/** How many XML comments the text has: moddle (bpmn-js, dmn-js) does not keep them. */
export function commentCount(xml) {
  const doc = new DOMParser().parseFromString(xml, 'application/xml');
  const walker = doc.createTreeWalker(doc, NodeFilter.SHOW_COMMENT);
  let count = 0;
  while (walker.nextNode()) { count += 1; }
  return count;
}
