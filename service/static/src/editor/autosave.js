// Saves one file a moment after the last change (so typing does not send a request per key),
// one request at a time; a change made while a save is under way is saved after it.

export class AutoSaver {
  /**
   * @param {object} options read (async: the file's text now), write (async: PUT it, returns
   *   the server's answer), onState (called with this saver on every change of state), delay
   */
  constructor({ read, write, onState, delay = 800 }) {
    this.read = read;
    this.write = write;
    this.onState = onState;
    this.delay = delay;
    this.state = 'saved'; // saved | unsaved | saving | failed
    this.error = null;
    this.savedAt = null;
    this.edits = 0; // changes so far; a save covers the edits made before it read the text
    this.savedEdits = 0;
    this.timer = null;
    this.running = null;
  }

  get dirty() {
    return this.edits !== this.savedEdits;
  }

  changed() {
    this.edits += 1;
    this.set('unsaved');
    clearTimeout(this.timer);
    // A failure is shown through onState; the next change or flush tries again.
    this.timer = setTimeout(() => { this.flush().catch(() => {}); }, this.delay);
  }

  /** Saves now if anything is unsaved; resolves when the file is saved (or rejects). */
  async flush() {
    clearTimeout(this.timer);
    while (this.running) { await this.running.catch(() => {}); }
    if (!this.dirty) { return; }
    this.running = this.save();
    try {
      await this.running;
    } finally {
      this.running = null;
    }
    if (this.dirty && this.state !== 'failed') { await this.flush(); }
  }

  async save() {
    const edits = this.edits;
    this.set('saving');
    try {
      const text = await this.read();
      const answer = await this.write(text);
      this.savedEdits = edits;
      this.savedAt = answer && answer.saved_at ? new Date(answer.saved_at) : new Date();
      this.error = null;
      this.set(this.dirty ? 'unsaved' : 'saved');
    } catch (error) {
      this.error = error;
      this.set('failed');
      throw error;
    }
  }

  /** A file written some other way (laid out and saved at once): its text is on the server. */
  markSaved(savedAt) {
    this.savedEdits = this.edits;
    this.savedAt = savedAt;
    this.set('saved');
  }

  set(state) {
    this.state = state;
    this.onState(this);
  }

  cancel() {
    clearTimeout(this.timer);
  }
}
