// Reads each BPMN file named on the command line the way the model editor does (bpmn-moddle
// with the editor's spiffworkflow descriptor, after bpmn-auto-layout when it has no diagram)
// and writes it back; prints {file: {xml, warnings, untyped}} as JSON for
// tests/browser/test_editor_assets.py, which compares the files in Python.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BpmnModdle } from 'bpmn-moddle';
import { layoutProcess } from 'bpmn-auto-layout';
import { loopRefsInBpmn } from '../../service/static/src/shared/loop-refs.js';

const descriptor = JSON.parse(readFileSync(fileURLToPath(new URL(
  '../../service/static/src/shared/spiffworkflow-moddle.json', import.meta.url)), 'utf8'));
const moddle = new BpmnModdle({ spiffworkflow: descriptor });

const result = {};
for (const file of process.argv.slice(2)) {
  const original = readFileSync(file, 'utf8');
  const laidOut = original.includes('BPMNDiagram') ? original : await layoutProcess(original);
  const { rootElement, warnings } = await moddle.fromXML(laidOut);
  // Elements of ours that moddle read as unknown XML would still be written back, but the
  // properties panel could not edit them.
  const untyped = findUntyped(rootElement);
  const { xml: written } = await moddle.toXML(rootElement, { format: true });
  const xml = loopRefsInBpmn(written);
  result[file] = { xml, warnings: warnings.map((w) => w.message), untyped };
}
process.stdout.write(JSON.stringify(result));

function findUntyped(root) {
  // moddle names an element it has no type for by its tag (spiffworkflow:postScript), a typed
  // one by its type (spiffworkflow:PostScript).
  const found = [];
  const seen = new Set();
  (function walk(node) {
    if (!node || typeof node !== 'object' || seen.has(node)) { return; }
    seen.add(node);
    if (typeof node.$type === 'string' && /^spiffworkflow:[a-z]/.test(node.$type)) {
      found.push(node.$type);
    }
    for (const key of Object.keys(node)) {
      if (!key.startsWith('$') || key === '$children') { walk(node[key]); }
    }
  })(root);
  return found;
}
