// A .bpmn file of the draft in a bpmn-js Modeler with the properties panel (standard BPMN
// groups plus the carepath ones), or in a NavigatedViewer when the draft is read-only.
import Modeler from 'bpmn-js/lib/Modeler';
import NavigatedViewer from 'bpmn-js/lib/NavigatedViewer';
import { BpmnPropertiesPanelModule, BpmnPropertiesProviderModule } from 'bpmn-js-properties-panel';

import spiffworkflow from '../shared/spiffworkflow-moddle.json';
import { loopRefsInBpmn } from '../shared/loop-refs.js';
import { commentCount, withLayout } from '../shared/layout.js';
import carepathProperties from './carepath-properties.js';
import { element } from './dom.js';

const PROBLEM = 'carepath-problem';

export class BpmnFile {
  /**
   * @param {object} options name, text, root (the pane element), readOnly, carepath (the
   *   properties panel's vocabulary), onChange (called on every edit)
   */
  constructor({ name, text, root, readOnly, carepath, onChange }) {
    this.name = name;
    this.original = text;
    this.readOnly = readOnly;
    this.problems = [];
    this.notes = [];
    const canvas = element('div', 'editor-canvas');
    canvas.setAttribute('role', 'application');
    canvas.setAttribute('aria-label', 'Diagram of ' + name + '; the properties of the ' +
      'selected element are beside it.');
    root.append(canvas);
    if (readOnly) {
      this.modeler = new NavigatedViewer({
        container: canvas, moddleExtensions: { spiffworkflow },
      });
    } else {
      const panel = element('div', 'editor-properties');
      panel.setAttribute('aria-label', 'Properties');
      root.append(panel);
      root.classList.add('with-properties');
      this.modeler = new Modeler({
        container: canvas,
        propertiesPanel: {
          parent: panel,
          layout: { groups: { timer: { open: true }, carepath: { open: true } } },
        },
        additionalModules: [BpmnPropertiesPanelModule, BpmnPropertiesProviderModule,
          carepathProperties],
        moddleExtensions: { spiffworkflow },
        carepath,
      });
      this.modeler.on('commandStack.changed', () => onChange());
    }
  }

  /** Draws the file (laid out first when it has no diagram); `laidOut` says if it was. */
  async open() {
    const { xml, laidOut } = await withLayout(this.original);
    const { warnings } = await this.modeler.importXML(xml);
    this.laidOut = laidOut;
    const comments = commentCount(this.original);
    if (comments && !this.readOnly) {
      this.notes.push('This file has ' + comments + ' XML comment' + (comments === 1 ? '' : 's') +
        ' (<!-- ... -->). The diagram editor does not keep comments: saving this file drops ' +
        'them. Put notes in an element\'s Documentation instead.');
    }
    this.comments = comments;
    if (warnings.length) {
      this.notes.push('Read with ' + warnings.length + ' warning' +
        (warnings.length === 1 ? '' : 's') + ': ' + warnings.slice(0, 3)
        .map((w) => w.message).join('; '));
    }
    this.overview();
    this.showProblems(this.problems);
  }

  /** The whole diagram; a long pathway is instead shown from its start at a readable size. */
  overview() {
    const canvas = this.modeler.get('canvas');
    canvas.zoom('fit-viewport');
    const box = canvas.viewbox();
    const readable = 0.6;
    if (box.scale < readable / 2) {
      // Room on the left for the palette.
      canvas.viewbox({ x: box.inner.x - 100 / readable, y: box.inner.y - 60,
        width: box.outer.width / readable, height: box.outer.height / readable });
    }
  }

  async text() {
    const { xml } = await this.modeler.saveXML({ format: true });
    return loopRefsInBpmn(xml);
  }

  resized() {
    const canvas = this.modeler.get('canvas');
    canvas.resized();
  }

  /** Red outline and a count badge on each element with problems; earlier ones cleared. */
  showProblems(problems) {
    this.problems = problems;
    const registry = this.modeler.get('elementRegistry');
    if (!registry.getAll().length) { return; } // not drawn yet: open() calls again
    const canvas = this.modeler.get('canvas');
    const overlays = this.modeler.get('overlays');
    overlays.remove({ type: PROBLEM });
    registry.forEach((shape) => { canvas.removeMarker(shape, PROBLEM); });
    const counts = new Map();
    problems.forEach((p) => {
      if (p.element && registry.get(p.element)) {
        counts.set(p.element, (counts.get(p.element) || 0) + 1);
      }
    });
    counts.forEach((count, id) => {
      canvas.addMarker(id, PROBLEM);
      const badge = element('span', 'carepath-tag carepath-tag-problem editor-problem-badge');
      badge.textContent = '⚠ ' + count + ' problem' + (count === 1 ? '' : 's');
      overlays.add(id, PROBLEM, { position: { top: -12, right: 40 }, html: badge });
    });
  }

  /** Selects the element and brings it into view; false when the diagram has no such id. */
  reveal(elementId) {
    const registry = this.modeler.get('elementRegistry');
    const shape = elementId && registry.get(elementId);
    if (!shape) { return false; }
    const canvas = this.modeler.get('canvas');
    // Steps inside a collapsed sub-process are on its own plane: go there first.
    const root = canvas.findRoot(shape);
    if (root && root !== canvas.getRootElement()) { canvas.setRootElement(root); }
    if (shape.waypoints) {
      canvas.scrollToElement(shape);
    } else {
      canvas.zoom(1);
      canvas.scrollToElement(shape);
    }
    if (!this.readOnly) { this.modeler.get('selection').select(shape); }
    return true;
  }

  destroy() {
    this.modeler.destroy();
  }
}

