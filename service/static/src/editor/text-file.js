// pathway.toml and forms/*.json in a plain text area; a form also gets a live preview of what
// the person filling it in sees (form-preview.js).
import { drawFormPreview } from './form-preview.js';
import { element } from './dom.js';

export class TextFile {
  constructor({ name, text, root, readOnly, onChange }) {
    this.name = name;
    this.problems = [];
    this.notes = [];
    const id = 'editor-text-' + name.replace(/[^A-Za-z0-9_-]/g, '-');
    const wrap = element('div', 'editor-text');
    const label = element('label', 'visually-hidden');
    label.htmlFor = id;
    label.textContent = 'Text of ' + name;
    this.area = element('textarea', 'editor-textarea');
    this.area.id = id;
    this.area.value = text;
    this.area.spellcheck = false;
    this.area.readOnly = readOnly;
    this.area.setAttribute('autocapitalize', 'off');
    this.area.setAttribute('autocomplete', 'off');
    wrap.append(label, this.area);
    root.append(wrap);
    if (name.startsWith('forms/') && name.endsWith('.json')) {
      const preview = element('section', 'editor-preview');
      preview.setAttribute('aria-label', 'Preview of the form');
      const title = element('h2', 'editor-preview-title');
      title.textContent = 'Preview: what the form shows';
      const body = element('div', 'editor-preview-body');
      preview.append(title, body);
      root.append(preview);
      root.classList.add('with-preview');
      this.preview = body;
      drawFormPreview(body, text);
    }
    this.area.addEventListener('input', () => {
      if (this.preview) { drawFormPreview(this.preview, this.area.value); }
      onChange();
    });
  }

  async open() {}

  async text() {
    return this.area.value;
  }

  resized() {}

  showProblems(problems) {
    this.problems = problems;
    this.area.setAttribute('aria-invalid', String(problems.length > 0));
  }

  reveal() {
    this.area.focus();
    return true;
  }

  destroy() {}
}
