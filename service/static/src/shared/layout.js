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

/** `{xml, laidOut}`: the XML itself when it has a diagram, else laid out (first process). */
export async function withLayout(xml) {
  if (!needsLayout(xml)) { return { xml, laidOut: false }; }
  return { xml: await layoutProcess(xml), laidOut: true };
}

/** How many XML comments the text has: moddle (bpmn-js, dmn-js) does not keep them. */
export function commentCount(xml) {
  const doc = new DOMParser().parseFromString(xml, 'application/xml');
  const walker = doc.createTreeWalker(doc, NodeFilter.SHOW_COMMENT);
  let count = 0;
  while (walker.nextNode()) { count += 1; }
  return count;
}
