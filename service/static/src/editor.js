// The managers' model editor (/models/drafts/{id}, template models/editor.html): every file of
// a draft bundle, each .bpmn in a bpmn-js Modeler with a properties panel, each .dmn in a
// dmn-js Modeler, pathway.toml and forms/*.json as text (forms with a preview). Every change
// is saved to the server a moment later (the draft API, docs/api.md); Validate asks the server
// for the bundle's problems and marks them on the diagrams; Deploy turns the draft into a
// model version once a validation found none since the last change.
//
// Test hooks (Playwright drives the page with them; a person uses the buttons):
//   window.carepathEditor.ready          Promise: the first file is open
//   window.carepathEditor.files()        the draft's file names
//   window.carepathEditor.open(name)     Promise: shows that file
//   window.carepathEditor.modeler(name)  Promise: opens the file and gives its bpmn-js or
//                                        dmn-js modeler (the <textarea> for a text file)
//   window.carepathEditor.save(name)     Promise: saves that file now (every file without a
//                                        name); rejects with the server's sentence
//   window.carepathEditor.validate()     Promise: {deployable, problems} after saving all
//   window.carepathEditor.deploy()       Promise: the new version, or null when refused
//   window.carepathEditor.status()       the status line's text
import 'bpmn-js/dist/assets/diagram-js.css';
import 'bpmn-js/dist/assets/bpmn-js.css';
import 'bpmn-js/dist/assets/bpmn-font/css/bpmn-embedded.css';
import '@bpmn-io/properties-panel/dist/assets/properties-panel.css';
import 'dmn-js/dist/assets/dmn-js-shared.css';
import 'dmn-js/dist/assets/dmn-js-drd.css';
import 'dmn-js/dist/assets/dmn-js-decision-table.css';
import 'dmn-js/dist/assets/dmn-js-decision-table-controls.css';
import 'dmn-js/dist/assets/dmn-js-literal-expression.css';
import 'dmn-js/dist/assets/dmn-js-boxed-expression.css';
import 'dmn-js/dist/assets/dmn-js-boxed-expression-controls.css';
import 'dmn-js/dist/assets/dmn-font/css/dmn-embedded.css';
import './editor/editor.css';

import { Editor } from './editor/editor.js';

function start() {
  const root = document.getElementById('editor');
  const data = document.getElementById('editor-data');
  if (!root || !data) { return; }
  const editor = new Editor(root, JSON.parse(data.textContent));
  window.carepathEditor = editor.hooks();
  editor.start();
}

if (document.readyState === 'loading') {
  document.addEventListener('DOMContentLoaded', start);
} else {
  start();
}
