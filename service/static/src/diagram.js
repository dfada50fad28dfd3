// Read-only pathway diagrams (bpmn-js NavigatedViewer), for the clinician's patient page and
// the model versions' pages. Files without a diagram are laid out here first.
//
//   window.carepathDiagram.show(container, xml, {markers: {elementId: kind}}) -> Promise<viewer>
//     kind: "added", "changed", "removed", "problem" (each also tagged with that word on the
//     diagram, so colour is not the only signal), "current", "done" (the patient's steps; the
//     page says in words what they are).
//
//   window.carepathDiagram.show(container, xml, {heat: {steps, branches}})
//     the managers' analytics: each step shaded by how many episodes wait there now
//     (carepath-heat-0..4, darker is more) with a count overlay ("3 waiting · median 2.5 h"),
//     and each sequence flow out of a gateway labelled with how often it was taken.
//
// Auto-init: every element with `data-carepath-diagram` is drawn when the page loads, from
//   data-src      a URL returning BPMN XML, or JSON {name: text} (then data-file names the file)
//   data-file     which file of that JSON to draw
//   data-markers  JSON {elementId: kind}
//   data-heat     the id of a <script type="application/json"> holding {steps, branches}
// and gets data-carepath-diagram="drawn" or "failed" (failed also puts a sentence in it).
import NavigatedViewer from 'bpmn-js/lib/NavigatedViewer';

import { withLayout } from './shared/layout.js';

const MARKERS = {
  added: 'carepath-added',
  changed: 'carepath-changed',
  removed: 'carepath-removed',
  problem: 'carepath-problem',
  current: 'highlight-current',
  done: 'highlight-done',
};
const TAGGED = new Set(['added', 'changed', 'removed', 'problem']);

export async function show(container, xml, options = {}) {
  const markers = options.markers || {};
  const { xml: drawable } = await withLayout(xml);
  container.textContent = '';
  const viewer = new NavigatedViewer({ container });
  await viewer.importXML(drawable);
  const canvas = viewer.get('canvas');
  const registry = viewer.get('elementRegistry');
  const overlays = viewer.get('overlays');
  const shown = new Set();
  const mark = (element, kind) => {
    canvas.addMarker(element, MARKERS[kind]);
    if (TAGGED.has(kind)) {
      overlays.add(element, 'carepath-tag', { position: { top: -12, left: 0 },
        html: tag(kind) });
      shown.add(kind);
    }
  };
  const first = canvas.getRootElement();
  Object.entries(markers).forEach(([id, kind]) => {
    const element = registry.get(id);
    if (!MARKERS[kind] || !element) { return; }
    mark(element, kind);
    // A step inside a collapsed sub-process is drawn on the sub-process's own plane: the
    // sub-process shape on the first plane says that something in it changed.
    const outer = TAGGED.has(kind) && shapeOnRoot(canvas, registry, element, first);
    if (outer && outer !== element && !markers[outer.id] &&
        !canvas.hasMarker(outer, MARKERS.changed)) {
      mark(outer, kind === 'problem' ? 'problem' : 'changed');
    }
  });
  if (options.heat) { drawHeat(options.heat, registry, canvas, overlays); }
  canvas.zoom('fit-viewport');
  legend(container, shown);
  return viewer;
}

/** The element itself when it is drawn on `root`, else its nearest ancestor that is. */
export function shapeOnRoot(canvas, registry, element, root) {
  if (canvas.findRoot(element) === root) { return element; }
  for (let bo = element.businessObject.$parent; bo; bo = bo.$parent) {
    const shape = bo.id && registry.get(bo.id);
    if (shape && !shape.waypoints && canvas.findRoot(shape) === root) { return shape; }
  }
  return null;
}

/** The analytics over the diagram: a shade and a count per step, a count per branch. */
function drawHeat(heat, registry, canvas, overlays) {
  const steps = heat.steps || {};
  const most = Math.max(1, ...Object.values(steps).map((s) => s.waiting || 0));
  Object.entries(steps).forEach(([id, step]) => {
    const element = registry.get(id);
    if (!element || element.waypoints) { return; }
    const level = step.waiting ? Math.min(4, 1 + Math.floor(3 * step.waiting / most)) : 0;
    canvas.addMarker(element, 'carepath-heat-' + level);
    const words = [step.waiting + ' waiting'];
    if (step.median_hours !== null && step.median_hours !== undefined) {
      words.push('median ' + hours(step.median_hours));
    }
    overlays.add(element, 'carepath-heat', { position: { bottom: 14, left: -4 },
      html: badge('carepath-heat-count', words.join(' · ')) });
  });
  (heat.branches || []).forEach((branch) => {
    const flow = registry.filter((e) => e.waypoints && e.businessObject.sourceRef &&
      e.businessObject.sourceRef.id === branch.gateway &&
      (branch.target === '(end)' || (e.businessObject.targetRef &&
        e.businessObject.targetRef.id === branch.target)))[0];
    if (!flow) { return; }
    const middle = flow.waypoints[Math.floor(flow.waypoints.length / 2)];
    overlays.add(flow, 'carepath-heat', {
      position: { top: middle.y - flow.y - 8, left: middle.x - flow.x + 4 },
      html: badge('carepath-branch-count', branch.taken + ' (' +
        Math.round(branch.share * 100) + '%)') });
  });
}

function hours(value) {
  return value >= 48 ? (value / 24).toFixed(1) + ' d' : value.toFixed(1) + ' h';
}

function badge(className, text) {
  const span = document.createElement('span');
  span.className = className;
  span.textContent = text;
  return span;
}

function tag(kind) {
  const span = document.createElement('span');
  span.className = 'carepath-tag carepath-tag-' + kind;
  span.textContent = kind;
  return span;
}

const WORDS = {
  added: '"added" (green): new in this version',
  changed: '"changed" (amber): changed in this version',
  removed: '"removed" (red, dashed): not in the newer version',
  problem: '"problem" (red outline): see the list of problems',
};

/** Below the diagram, the tags in words (replaced on every show). */
function legend(container, kinds) {
  const next = container.nextElementSibling;
  if (next && next.classList.contains('carepath-legend')) { next.remove(); }
  if (!kinds.size) { return; }
  const text = document.createElement('p');
  text.className = 'carepath-legend';
  text.textContent = 'Tags on the diagram: ' + Array.from(kinds, (kind) => WORDS[kind])
    .join('; ') + '.';
  container.after(text);
}

async function drawFromAttributes(container) {
  try {
    const response = await fetch(container.dataset.src, { credentials: 'same-origin' });
    if (!response.ok) { throw new Error('diagram ' + response.status); }
    let xml = await response.text();
    if (container.dataset.file) { xml = JSON.parse(xml)[container.dataset.file]; }
    if (typeof xml !== 'string') { throw new Error('no such file ' + container.dataset.file); }
    const markers = container.dataset.markers ? JSON.parse(container.dataset.markers) : {};
    const island = container.dataset.heat && document.getElementById(container.dataset.heat);
    const heat = island ? JSON.parse(island.textContent) : null;
    await show(container, xml, { markers, heat });
    container.dataset.carepathDiagram = 'drawn';
  } catch (error) {
    container.textContent = 'The diagram could not be drawn (' + error.message + ').';
    container.dataset.carepathDiagram = 'failed';
  }
}

function drawAll() {
  document.querySelectorAll('[data-carepath-diagram]').forEach((container) => {
    if (!container.dataset.carepathDiagram) { drawFromAttributes(container); }
  });
}

window.carepathDiagram = { show };
if (document.readyState === 'loading') {
  document.addEventListener('DOMContentLoaded', drawAll);
} else {
  drawAll();
}
