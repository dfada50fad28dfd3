// A .dmn file of the draft in a dmn-js Modeler: one view per decision (decision tables are
// edited in place), chosen with buttons above it; the DRD view only when the file has a
// diagram (carepath's tables are written without one). Read-only drafts get the Viewer.
import DmnModeler from 'dmn-js/lib/Modeler';
import DmnViewer from 'dmn-js/lib/Viewer';
import { element } from './dom.js';

export class DmnFile {
  constructor({ name, text, root, readOnly, onChange }) {
    this.name = name;
    this.original = text;
    this.readOnly = readOnly;
    this.onChange = onChange;
    this.notes = [];
    this.problems = [];
    this.views = element('div', 'editor-views');
    this.views.setAttribute('role', 'group');
    this.views.setAttribute('aria-label', 'Decisions in ' + name);
    const canvas = element('div', 'editor-dmn');
    root.append(this.views, canvas);
    this.canvas = canvas;
    const Editor = readOnly ? DmnViewer : DmnModeler;
    this.modeler = new Editor({ container: canvas });
    this.watched = new WeakSet();
    this.modeler.on('views.changed', () => {
      this.watchActiveViewer();
      this.drawViewButtons();
      this.showProblems(this.problems);
    });
  }

  async open() {
    const { warnings } = await this.modeler.importXML(this.original);
    if (warnings.length) {
      this.notes.push('Read with ' + warnings.length + ' warning' +
        (warnings.length === 1 ? '' : 's') + ': ' + warnings.slice(0, 3)
        .map((w) => w.message).join('; '));
    }
    if (/<!--/.test(this.original) && !this.readOnly) {
      this.notes.push('This file has XML comments (<!-- ... -->). The decision editor does ' +
        'not keep them: saving this file drops them. Use a rule\'s annotation instead.');
    }
    // dmn-js offers "View DRD" above each table; without a diagram that view is empty.
    this.canvas.classList.toggle('without-drd', !/DMNDiagram/.test(this.original));
    this.drawViewButtons();
  }

  /** The views worth offering: every decision; the DRD only when it has a diagram. */
  usefulViews() {
    const hasDiagram = /DMNDiagram/.test(this.original);
    return this.modeler.getViews().filter((view) => view.type !== 'drd' || hasDiagram);
  }

  drawViewButtons() {
    const active = this.modeler.getActiveView();
    this.views.textContent = '';
    this.usefulViews().forEach((view) => {
      const button = element('button', 'editor-view');
      button.type = 'button';
      button.textContent = view.type === 'drd' ? 'Decision diagram'
        : (view.element.name || view.element.id);
      button.setAttribute('aria-pressed', String(Boolean(active && active.id === view.id)));
      button.addEventListener('click', () => this.modeler.open(view));
      this.views.append(button);
    });
  }

  /** Every viewer of dmn-js (DRD, table, ...) has its own command stack: listen to each. */
  watchActiveViewer() {
    const viewer = this.modeler.getActiveViewer();
    if (!viewer || this.watched.has(viewer) || this.readOnly) { return; }
    this.watched.add(viewer);
    viewer.on('commandStack.changed', () => this.onChange());
  }

  async text() {
    const { xml } = await this.modeler.saveXML({ format: true });
    return xml;
  }

  resized() {}

  /** Problems are listed on the page; in the open table, rules with a problem are marked. */
  showProblems(problems) {
    this.problems = problems;
    const root = this.canvas;
    if (!root) { return; }
    root.querySelectorAll('.carepath-problem-cell').forEach((cell) => {
      cell.classList.remove('carepath-problem-cell');
    });
    problems.forEach((p) => {
      if (!p.element) { return; }
      root.querySelectorAll('[data-row-id="' + CSS.escape(p.element) + '"]')
        .forEach((cell) => cell.classList.add('carepath-problem-cell'));
    });
  }

  /** Opens the decision with that id, or the one holding that rule, input or output. */
  reveal(elementId) {
    if (!elementId) { return false; }
    const view = this.modeler.getViews().find((v) => v.element.id === elementId ||
      containsId(v.element.decisionLogic, elementId));
    if (!view) { return false; }
    const scroll = () => {
      const cell = this.canvas.querySelector(
        '[data-row-id="' + CSS.escape(elementId) + '"], [data-col-id="' +
        CSS.escape(elementId) + '"]');
      if (cell) { cell.scrollIntoView({ block: 'center', inline: 'nearest' }); }
    };
    const active = this.modeler.getActiveView();
    if (active && active.id === view.id) {
      scroll();
    } else {
      this.modeler.open(view).then(scroll);
    }
    return true;
  }

  destroy() {
    this.modeler.destroy();
  }
}

function containsId(logic, id) {
  if (!logic) { return false; }
  const parts = [...(logic.rule || []), ...(logic.input || []), ...(logic.output || [])];
  return parts.some((part) => part.id === id);
}
