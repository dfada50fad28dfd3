// What the patient (or clinician) sees for a forms/*.json: its JSON Schema's properties as
// labelled controls, drawn the way the server's form template does (service/core/forms.py,
// _fields.html): booleans Yes/No, enums as radio buttons, arrays of enums as check boxes,
// numbers with their range, "(required)" after a required label. Nothing here is submitted.

import { element } from './dom.js';

let counter = 0;

/** Replaces `root`'s content with the form, or with a sentence saying why it cannot. */
export function drawFormPreview(root, text) {
  root.textContent = '';
  let schema;
  try {
    schema = JSON.parse(text);
  } catch (error) {
    root.append(paragraph('message error', 'Not valid JSON yet: ' + error.message));
    return;
  }
  if (!schema || typeof schema !== 'object' || !schema.properties) {
    root.append(paragraph('muted', 'No "properties" to show: the form asks nothing.'));
    return;
  }
  if (schema.title) { root.append(heading(schema.title)); }
  if (schema.description) { root.append(paragraph('muted', schema.description)); }
  fields(root, schema);
}

function fields(root, schema) {
  const required = new Set(schema.required || []);
  Object.entries(schema.properties || {}).forEach(([name, prop]) => {
    if (!prop || typeof prop !== 'object') { return; }
    const label = prop.title || labelFor(name);
    if (prop.type === 'object') {
      const set = document.createElement('fieldset');
      set.append(legend(label, required.has(name)));
      fields(set, prop);
      root.append(set);
      return;
    }
    root.append(field(prop, label, required.has(name)));
  });
}

function field(prop, label, required) {
  const options = prop.enum || (prop.items && prop.items.enum);
  const labels = prop['x-enum-labels'] || (prop.items && prop.items['x-enum-labels']) || {};
  const id = 'preview-' + (counter += 1);
  if (prop.type === 'boolean' || options) {
    const set = document.createElement('fieldset');
    set.className = 'field';
    set.append(legend(label, required));
    if (prop.description) { set.append(paragraph('hint', prop.description)); }
    const choices = prop.type === 'boolean' ? [['true', 'Yes'], ['false', 'No']]
      : options.map((o) => [String(o), labels[String(o)] || labelFor(String(o))]);
    const kind = prop.type === 'array' ? 'checkbox' : 'radio';
    choices.forEach(([value, text]) => {
      const choice = document.createElement('label');
      choice.className = 'choice';
      const input = document.createElement('input');
      input.type = kind;
      input.name = id;
      input.value = value;
      choice.append(input, ' ' + text);
      set.append(choice);
    });
    return set;
  }
  const wrap = document.createElement('p');
  wrap.className = 'field';
  const text = document.createElement('label');
  text.htmlFor = id;
  text.append(label);
  if (required) { text.append(' ', span('muted', '(required)')); }
  wrap.append(text);
  if (prop.description) { wrap.append(span('hint', prop.description)); }
  const numeric = prop.type === 'integer' || prop.type === 'number';
  if (numeric && prop.minimum !== undefined && prop.maximum !== undefined) {
    wrap.append(span('hint', prop.minimum + ' to ' + prop.maximum));
  }
  const long = prop.type === 'array' || (prop.type === 'string' && prop.maxLength > 300);
  const input = document.createElement(long ? 'textarea' : 'input');
  input.id = id;
  if (long) {
    input.rows = 3;
  } else if (numeric) {
    input.type = 'number';
    if (prop.minimum !== undefined) { input.min = prop.minimum; }
    if (prop.maximum !== undefined) { input.max = prop.maximum; }
  } else {
    input.type = 'text';
  }
  wrap.append(input);
  return wrap;
}

function labelFor(name) {
  const words = name.replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function legend(label, required) {
  const node = document.createElement('legend');
  node.append(label);
  if (required) { node.append(' ', span('muted', '(required)')); }
  return node;
}

function heading(text) {
  return element('h3', '', text);
}

function paragraph(className, text) {
  return element('p', className, text);
}

function span(className, text) {
  return element('span', className, text);
}
