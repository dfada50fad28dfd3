// The editor page's state: the draft's files, the open panes, saving, validation, deploy and
// upload. The DOM it works on comes from models/editor.html (ids editor-*).
import { ApiError, draftApi } from './api.js';
import { AutoSaver } from './autosave.js';
import { BpmnFile } from './bpmn-file.js';
import { DmnFile } from './dmn-file.js';
import { element } from './dom.js';
import { TextFile } from './text-file.js';

const ORDER = [/^pathway\.toml$/, /\.bpmn$/, /\.dmn$/, /^forms\//];

export class Editor {
  constructor(root, page) {
    this.root = root;
    this.page = page;
    this.api = draftApi(page.draft_id);
    this.readOnly = page.deployed_version_id !== null;
    this.texts = new Map(); // name -> text as last loaded or saved
    this.panes = new Map(); // name -> {pane, section, saver, opened}
    this.problems = [];
    this.edits = 0; // every change to any file
    this.cleanAt = null; // `edits` when a validation last found no problem
    this.message = '';
    this.current = null;
    this.el = {
      files: root.querySelector('#editor-files'),
      panes: root.querySelector('#editor-panes'),
      status: root.querySelector('#editor-status'),
      validate: root.querySelector('#editor-validate'),
      deploy: root.querySelector('#editor-deploy'),
      upload: root.querySelector('#editor-upload'),
      problems: root.querySelector('#editor-problems'),
      problemTitle: root.querySelector('#editor-problems-title'),
      problemList: root.querySelector('#editor-problem-list'),
      result: root.querySelector('#editor-result'),
    };
    let ready;
    this.ready = new Promise((resolve, reject) => { ready = { resolve, reject }; });
    this.readyCallbacks = ready;
  }

  hooks() {
    return {
      ready: this.ready,
      files: () => this.names(),
      open: (name) => this.open(name).then(() => undefined),
      modeler: (name) => this.open(name).then((entry) => entry.pane.modeler || entry.pane.area),
      save: (name) => (name ? this.saveFile(name) : this.saveAll()),
      validate: () => this.validate(),
      deploy: () => this.deploy(),
      status: () => this.el.status.textContent,
    };
  }

  async start() {
    this.el.validate.addEventListener('click', () => { this.validate().catch(() => {}); });
    this.el.deploy.addEventListener('click', () => { this.deploy().catch(() => {}); });
    this.el.upload.addEventListener('change', () => { this.upload(); });
    window.addEventListener('beforeunload', (event) => {
      if (this.unsaved().length) {
        this.saveAll().catch(() => {});
        event.preventDefault();
        event.returnValue = '';
      }
    });
    this.updateButtons();
    this.say('Loading the draft…');
    try {
      const draft = await this.api.get();
      this.load(draft.files);
      this.say('');
      await this.open(this.firstFile());
      this.readyCallbacks.resolve();
    } catch (error) {
      this.say('The draft could not be opened: ' + error.message);
      this.readyCallbacks.reject(error);
    }
  }

  // -- files and panes

  names() {
    const rank = (name) => ORDER.findIndex((pattern) => pattern.test(name));
    return [...this.texts.keys()].sort((a, b) => {
      const ra = rank(a) === -1 ? ORDER.length : rank(a);
      const rb = rank(b) === -1 ? ORDER.length : rank(b);
      return ra - rb || a.localeCompare(b);
    });
  }

  /** The process pathway.toml starts, else the first .bpmn, else the first file. */
  firstFile() {
    const names = this.names();
    const toml = this.texts.get('pathway.toml') || '';
    const process = /^\s*process\s*=\s*"([^"]+)"/m.exec(toml);
    const main = process && names.find((name) => name.endsWith('.bpmn') &&
      this.texts.get(name).includes('id="' + process[1] + '"'));
    return main || names.find((name) => name.endsWith('.bpmn')) || names[0];
  }

  load(files) {
    this.panes.forEach((entry) => {
      entry.saver.cancel();
      entry.pane && entry.pane.destroy();
      entry.section.remove();
    });
    this.panes.clear();
    this.texts = new Map(Object.entries(files));
    this.drawFileList();
  }

  drawFileList() {
    this.el.files.textContent = '';
    this.names().forEach((name) => {
      const item = document.createElement('li');
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'editor-file';
      button.dataset.file = name;
      button.setAttribute('aria-current', String(name === this.current));
      const label = document.createElement('span');
      label.className = 'editor-file-name';
      label.textContent = name;
      const state = document.createElement('span');
      state.className = 'editor-file-state';
      const count = document.createElement('span');
      count.className = 'editor-file-problems';
      button.append(label, state, count);
      button.addEventListener('click', () => { this.open(name).catch(() => {}); });
      item.append(button);
      this.el.files.append(item);
    });
    this.names().forEach((name) => this.drawFileState(name));
  }

  fileButton(name) {
    return [...this.el.files.querySelectorAll('.editor-file')]
      .find((button) => button.dataset.file === name);
  }

  drawFileState(name) {
    const button = this.fileButton(name);
    if (!button) { return; }
    const entry = this.panes.get(name);
    const state = entry ? entry.saver.state : 'saved';
    const words = { unsaved: 'unsaved', saving: 'saving…', failed: 'not saved', saved: '' };
    button.querySelector('.editor-file-state').textContent = words[state];
    button.dataset.state = state;
    const count = this.problems.filter((p) => p.file === name).length;
    button.querySelector('.editor-file-problems').textContent = count
      ? '⚠ ' + count + ' problem' + (count === 1 ? '' : 's') : '';
  }

  /** Shows a file, creating its pane (and drawing it) the first time. */
  async open(name) {
    if (!this.texts.has(name)) { throw new Error('no file ' + name + ' in this draft'); }
    this.current = name;
    this.el.files.querySelectorAll('.editor-file').forEach((button) => {
      button.setAttribute('aria-current', String(button.dataset.file === name));
    });
    this.panes.forEach((entry, other) => { entry.section.hidden = other !== name; });
    let entry = this.panes.get(name);
    if (!entry) {
      entry = this.createPane(name);
      this.panes.set(name, entry);
    }
    entry.section.hidden = false;
    await entry.opened;
    entry.pane.resized();
    return entry;
  }

  createPane(name) {
    const section = document.createElement('section');
    section.className = 'editor-pane';
    section.dataset.file = name;
    section.setAttribute('aria-label', name);
    const header = document.createElement('div');
    header.className = 'editor-pane-header';
    const title = document.createElement('h2');
    title.textContent = name;
    const download = button('Download this file', 'editor-download');
    header.append(title, download);
    if (!this.readOnly) {
      const remove = button('Remove this file', 'editor-remove');
      remove.addEventListener('click', () => { this.remove(name); });
      header.append(remove);
    }
    const notes = document.createElement('div');
    notes.className = 'editor-notes';
    const body = document.createElement('div');
    body.className = 'editor-body';
    section.append(header, notes, body);
    this.el.panes.append(section);

    const onChange = () => this.changed(name);
    const options = { name, text: this.texts.get(name), root: body, readOnly: this.readOnly,
      onChange };
    let pane;
    if (name.endsWith('.bpmn')) {
      pane = new BpmnFile({ ...options, carepath: this.vocabulary() });
      body.classList.add('editor-body-bpmn');
    } else if (name.endsWith('.dmn')) {
      pane = new DmnFile(options);
      body.classList.add('editor-body-dmn');
    } else {
      pane = new TextFile(options);
    }
    const saver = new AutoSaver({
      read: () => pane.text(),
      write: async (text) => {
        const answer = await this.api.save(name, text);
        this.texts.set(name, text);
        return answer;
      },
      onState: (state) => {
        // The last action's message (laid out, validated, ...) gives way to the next save.
        if (state.state === 'saving') { this.message = ''; }
        this.drawFileState(name);
        this.drawStatus();
      },
    });
    download.addEventListener('click', () => { this.download(name, pane); });
    pane.showProblems(this.problems.filter((p) => p.file === name));
    const entry = { pane, section, saver, notes };
    entry.opened = pane.open().then(() => this.afterOpen(name, entry)).catch((error) => {
      notes.append(note('message error', name + ' could not be drawn: ' + error.message +
        ' Correct it as text (download, edit, upload) or upload a new version.'));
    });
    return entry;
  }

  async afterOpen(name, entry) {
    const { pane, notes, saver } = entry;
    pane.notes.forEach((text) => notes.append(note('message warning', text)));
    if (!pane.laidOut) { return; }
    if (this.readOnly) {
      notes.append(note('message', 'It has no diagram: laid out automatically for showing.'));
      return;
    }
    if (pane.comments) {
      notes.append(note('message', 'It had no diagram: laid out automatically. The layout ' +
        'is saved with your first change (saving now would drop the comments).'));
      this.say(name + ' laid out automatically (not saved yet).');
      return;
    }
    try {
      const answer = await this.api.save(name, await pane.text());
      saver.markSaved(answer && answer.saved_at ? new Date(answer.saved_at) : new Date());
      notes.append(note('message', 'It had no diagram: laid out automatically and saved.'));
      this.say(name + ' laid out automatically.');
    } catch (error) {
      this.say(name + ' laid out automatically, but the layout could not be saved: ' +
        error.message);
    }
  }

  /** What the properties panel offers: the page's vocabulary and the draft's own names. */
  vocabulary() {
    return {
      roles: this.page.roles,
      alerts: this.page.alerts,
      educationModules: this.page.education_modules,
      helpers: this.page.helpers,
      formNames: () => this.names().filter((name) => /^forms\/.+\.json$/.test(name))
        .map((name) => name.slice('forms/'.length, -'.json'.length)),
      decisionIds: () => this.names().filter((name) => name.endsWith('.dmn'))
        .flatMap((name) => decisionIds(this.texts.get(name))),
    };
  }

  changed(name) {
    if (this.readOnly) { return; }
    this.edits += 1;
    this.updateButtons();
    this.panes.get(name).saver.changed();
  }

  unsaved() {
    return [...this.panes.entries()].filter(([, entry]) => entry.saver.dirty)
      .map(([name]) => name);
  }

  async saveFile(name) {
    const entry = this.panes.get(name);
    if (entry) { await entry.saver.flush(); }
  }

  async saveAll() {
    await Promise.all([...this.panes.values()].map((entry) => entry.saver.flush()));
  }

  async download(name, pane) {
    const text = await pane.text();
    const link = document.createElement('a');
    link.href = URL.createObjectURL(new Blob([text], { type: 'application/octet-stream' }));
    link.download = name.split('/').pop();
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  }

  async remove(name) {
    // eslint-disable-next-line no-alert
    if (!window.confirm('Remove ' + name + ' from this draft?')) { return; }
    const entry = this.panes.get(name);
    if (entry) { entry.saver.cancel(); }
    try {
      await this.api.remove(name);
    } catch (error) {
      this.say('Could not remove ' + name + ': ' + error.message);
      return;
    }
    if (entry) {
      entry.pane.destroy();
      entry.section.remove();
      this.panes.delete(name);
    }
    this.texts.delete(name);
    this.edits += 1;
    this.updateButtons();
    this.drawFileList();
    this.say(name + ' removed.');
    const next = this.firstFile();
    if (next) { await this.open(next); }
  }

  // -- the status line

  say(message) {
    this.message = message;
    this.drawStatus();
  }

  drawStatus() {
    const entries = [...this.panes.entries()];
    const failed = entries.find(([, entry]) => entry.saver.state === 'failed');
    const saving = entries.find(([, entry]) => entry.saver.state === 'saving');
    let saveText = '';
    if (failed) {
      saveText = 'Could not save ' + failed[0] + ': ' + failed[1].saver.error.message;
    } else if (saving) {
      saveText = 'Saving…';
    } else if (entries.some(([, entry]) => entry.saver.dirty)) {
      saveText = 'Unsaved changes…';
    } else {
      const times = entries.map(([, entry]) => entry.saver.savedAt).filter(Boolean);
      if (times.length) {
        const last = new Date(Math.max(...times.map(Number)));
        saveText = 'Saved ' + String(last.getHours()).padStart(2, '0') + ':' +
          String(last.getMinutes()).padStart(2, '0') + '.';
      }
    }
    this.el.status.textContent = [saveText, this.message].filter(Boolean).join(' ');
    this.el.status.classList.toggle('error', Boolean(failed));
  }

  updateButtons() {
    this.el.deploy.disabled = this.readOnly || this.cleanAt === null ||
      this.cleanAt !== this.edits;
    this.el.upload.disabled = this.readOnly;
  }

  // -- validate, deploy, upload

  async validate() {
    this.say('Validating…');
    try {
      await this.saveAll();
    } catch (error) {
      this.say('Not validated: a file could not be saved.');
      throw error;
    }
    const edits = this.edits;
    let result;
    try {
      result = await this.api.problems();
    } catch (error) {
      this.say('Could not validate: ' + error.message);
      throw error;
    }
    this.showProblems(result.problems, result.problems.length
      ? 'Problems found by validation' : null);
    const clean = result.deployable && result.problems.length === 0;
    this.cleanAt = clean && this.edits === edits ? edits : null;
    this.updateButtons();
    this.say(clean ? 'No problems found: the draft can be deployed.'
      : problemCount(result.problems) + ' found: see the list.');
    return result;
  }

  async deploy() {
    if (this.el.deploy.disabled) {
      this.say('Validate first: Deploy needs a validation without problems since the last ' +
        'change.');
      return null;
    }
    this.el.deploy.disabled = true;
    this.say('Deploying…');
    try {
      await this.saveAll();
      const version = await this.api.deploy();
      this.readOnly = true;
      this.panes.forEach((entry) => entry.saver.cancel());
      this.updateButtons();
      this.el.validate.disabled = true;
      this.el.result.hidden = false;
      this.el.result.textContent = 'Deployed as version ' + version.id + '. This draft is ' +
        'now read-only. ';
      const link = document.createElement('a');
      link.href = '/models';
      link.textContent = 'See it in the model library';
      this.el.result.append(link, '.');
      this.say('Deployed as version ' + version.id + '.');
      await this.reopenReadOnly();
      return version;
    } catch (error) {
      this.cleanAt = null;
      this.updateButtons();
      if (error instanceof ApiError && error.problems.length) {
        this.showProblems(error.problems, 'Deploy refused');
      }
      this.say('Not deployed: ' + error.message);
      return null;
    }
  }

  async reopenReadOnly() {
    const current = this.current;
    const texts = Object.fromEntries(await Promise.all([...this.texts.keys()].map(
      async (name) => {
        const entry = this.panes.get(name);
        return [name, entry ? await entry.pane.text() : this.texts.get(name)];
      })));
    this.load(texts);
    if (current && this.texts.has(current)) { await this.open(current); }
  }

  async upload() {
    const files = this.el.upload.files;
    if (!files || !files.length) { return; }
    this.say('Uploading ' + files.length + ' file' + (files.length === 1 ? '' : 's') + '…');
    try {
      await this.saveAll();
      const draft = await this.api.upload(files);
      const current = this.current;
      this.load(draft.files);
      this.edits += 1;
      this.cleanAt = null;
      this.updateButtons();
      this.showProblems([], null);
      this.say('Uploaded ' + [...files].map((f) => f.name).join(', ') + '.');
      await this.open(this.texts.has(current) ? current : this.firstFile());
    } catch (error) {
      if (error instanceof ApiError) {
        this.showProblems(error.problems, 'Upload refused: nothing was changed');
      }
      this.say('Upload refused: ' + error.message);
    } finally {
      this.el.upload.value = '';
    }
  }

  // -- problems

  showProblems(problems, title) {
    this.problems = problems || [];
    this.el.problems.hidden = !title && !this.problems.length;
    this.el.problemTitle.textContent = (title || 'Problems') +
      (this.problems.length ? ' (' + this.problems.length + ')' : '');
    this.el.problemList.textContent = '';
    this.problems.forEach((problem) => {
      const item = document.createElement('li');
      const where = [problem.file || 'the bundle', problem.element].filter(Boolean).join(' › ');
      if (problem.file && this.texts.has(problem.file)) {
        const link = button('', 'editor-problem');
        link.dataset.file = problem.file;
        if (problem.element) { link.dataset.element = problem.element; }
        const place = document.createElement('strong');
        place.textContent = where;
        link.append(place, ': ' + problem.message);
        link.addEventListener('click', () => { this.reveal(problem.file, problem.element); });
        item.append(link);
      } else {
        const place = document.createElement('strong');
        place.textContent = where;
        item.append(place, ': ' + problem.message);
      }
      this.el.problemList.append(item);
    });
    this.panes.forEach((entry, name) => {
      entry.pane.showProblems(this.problems.filter((p) => p.file === name));
    });
    this.names().forEach((name) => this.drawFileState(name));
  }

  async reveal(name, elementId) {
    const entry = await this.open(name);
    if (elementId && !entry.pane.reveal(elementId)) {
      this.say(elementId + ' is not drawn in ' + name + '.');
    } else if (!elementId) {
      entry.pane.reveal(null);
    }
    entry.section.scrollIntoView({ block: 'start' });
  }
}

const decisionCache = new Map();

/** The decision ids a DMN text defines (the properties panel asks on every redraw). */
function decisionIds(xml) {
  if (!decisionCache.has(xml)) {
    const doc = new DOMParser().parseFromString(xml || '', 'application/xml');
    if (decisionCache.size > 50) { decisionCache.clear(); } // old texts of saved files
    decisionCache.set(xml, Array.from(doc.getElementsByTagNameNS('*', 'decision'),
      (d) => d.getAttribute('id')).filter(Boolean));
  }
  return decisionCache.get(xml);
}

function problemCount(problems) {
  return problems.length + ' problem' + (problems.length === 1 ? '' : 's');
}

function button(text, className) {
  const node = element('button', className, text);
  node.type = 'button';
  return node;
}

function note(className, text) {
  return element('p', className, text);
}
