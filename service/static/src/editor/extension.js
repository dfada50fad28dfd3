// Reading and writing what carepath keeps in a BPMN element's bpmn:extensionElements:
// <spiffworkflow:properties> (role, form, due_in, ...: docs/model-authors.md) and the text
// elements (spiffworkflow:postScript, ...). Every write is one command on the modeler's command
// stack, so it can be undone and it fires the autosave like any other change.
import { getBusinessObject, is } from 'bpmn-js/lib/util/ModelUtil';

function extensionValues(bo) {
  const extensions = bo.get('extensionElements');
  return extensions ? extensions.get('values') : [];
}

function extension(bo, type) {
  return extensionValues(bo).find((value) => is(value, type));
}

/** The element's carepath properties in document order, as {name, value}. */
export function propertyList(element) {
  const container = extension(getBusinessObject(element), 'spiffworkflow:Properties');
  return (container ? container.get('values') : [])
    .map((p) => ({ name: p.get('name') || '', value: p.get('value') || '' }));
}

export function propertyValue(element, name) {
  const found = propertyList(element).find((p) => p.name === name);
  return found ? found.value : '';
}

/** The body of a text extension such as spiffworkflow:PostScript, or ''. */
export function textExtension(element, type) {
  const found = extension(getBusinessObject(element), type);
  return (found && found.get('value')) || '';
}

function update(element, moddleElement, properties) {
  return { cmd: 'element.updateModdleProperties', context: { element, moddleElement, properties } };
}

/**
 * Sets the extension of `type` to `attrs` (creating it, and bpmn:extensionElements, when
 * missing), or removes it when `attrs` is null (and extensionElements too when it empties).
 */
export function setExtension(injector, element, type, attrs) {
  const bpmnFactory = injector.get('bpmnFactory');
  const bo = getBusinessObject(element);
  let extensions = bo.get('extensionElements');
  const existing = extension(bo, type);
  const commands = [];
  if (!attrs) {
    if (!existing) { return; }
    const rest = extensions.get('values').filter((value) => value !== existing);
    commands.push(rest.length ? update(element, extensions, { values: rest })
      : update(element, bo, { extensionElements: undefined }));
  } else if (existing) {
    commands.push(update(element, existing, attrs));
  } else {
    if (!extensions) {
      extensions = bpmnFactory.create('bpmn:ExtensionElements', { values: [] });
      extensions.$parent = bo;
      commands.push(update(element, bo, { extensionElements: extensions }));
    }
    const created = bpmnFactory.create(type, attrs);
    created.$parent = extensions;
    commands.push(update(element, extensions, { values: [...extensions.get('values'), created] }));
  }
  injector.get('commandStack').execute('properties-panel.multi-command-executor', commands);
}

/** Sets a text extension; an empty text removes the element. */
export function setTextExtension(injector, element, type, text) {
  setExtension(injector, element, type, text && text.trim() ? { value: text } : null);
}

/**
 * Rewrites the carepath properties: `edit` gets the list of {name, value} and returns the new
 * one. Unchanged properties keep their moddle objects; an empty list removes the container.
 */
export function editProperties(injector, element, edit) {
  const bpmnFactory = injector.get('bpmnFactory');
  const container = extension(getBusinessObject(element), 'spiffworkflow:Properties');
  const current = container ? container.get('values') : [];
  const wanted = edit(propertyList(element));
  const values = wanted.map(({ name, value }) => current.find(
    (p) => p.get('name') === name && (p.get('value') || '') === value) ||
    bpmnFactory.create('spiffworkflow:Property', { name, value }));
  if (container && values.length === current.length &&
      values.every((value, index) => value === current[index])) {
    return; // nothing changed: no command, no autosave
  }
  values.forEach((value) => { value.$parent = container; });
  setExtension(injector, element, 'spiffworkflow:Properties', values.length ? { values } : null);
}

/** Sets one property (kept in place when it exists, appended when not); '' removes it. */
export function setProperty(injector, element, name, value) {
  editProperties(injector, element, (list) => {
    if (!value) { return list.filter((p) => p.name !== name); }
    if (list.some((p) => p.name === name)) {
      return list.map((p) => (p.name === name ? { name, value } : p));
    }
    return [...list, { name, value }];
  });
}
