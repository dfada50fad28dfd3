/**
 * SpiffWorkflow reads a multi-instance task's loopDataInputRef and loopDataOutputRef as the
 * names of variables in the task data; BPMN makes them references to declared data, which
 * bpmn-moddle would drop on saving when nothing of that id is declared (and declaring a data
 * object changes how SpiffWorkflow runs the model). The descriptor
 * (shared/spiffworkflow-moddle.json, LoopDataRefs) reads them as text; moddle writes them
 * under its own prefix, so they are put back in the BPMN namespace here.
 */
export function loopRefsInBpmn(xml) {
  const root = /<([\w-]+:)?definitions[\s>]/.exec(xml);
  const prefix = root && root[1] ? root[1] : '';
  return xml.replace(/<(\/?)spiffworkflow:(loopData(?:In|Out)putRef)>/g, `<$1${prefix}$2>`);
}
