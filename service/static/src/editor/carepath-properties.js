// The properties panel's "carepath" group: what carepath reads on a task (docs/model-authors.md,
// pathways/properties.py) as fields instead of raw XML, plus the scripts and gateway conditions
// the standard BPMN groups do not show. A "carepath events" list group holds event:NAME /
// event_if:NAME pairs.
//
// The page's vocabulary (roles, alerts, education modules, the draft's forms and decisions)
// comes from the modeler's `carepath` config (see bpmn-file.js).
import {
  CheckboxEntry, ListGroup, SelectEntry, TextAreaEntry, TextFieldEntry,
  isCheckboxEntryEdited, isSelectEntryEdited, isTextAreaEntryEdited, isTextFieldEntryEdited,
} from '@bpmn-io/properties-panel';
import { jsx } from '@bpmn-io/properties-panel/preact/jsx-runtime';
import { useService } from 'bpmn-js-properties-panel';
import { getBusinessObject, is } from 'bpmn-js/lib/util/ModelUtil';

import {
  editProperties, propertyList, propertyValue, setProperty, setTextExtension, textExtension,
} from './extension.js';

const LOW_PRIORITY = 500; // after the standard BPMN groups
const EVENT_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const EXPRESSION = 'expression';

function CarepathPropertiesProvider(propertiesPanel, injector, translate) {
  this.getGroups = (element) => (groups) => {
    const entries = carepathEntries(element);
    if (entries.length) {
      groups.push({ id: 'carepath', label: translate('carepath'), entries, shouldOpen: true });
    }
    if (is(element, 'bpmn:Activity')) {
      groups.push(eventsGroup(element, injector, translate));
    }
    return groups;
  };
  propertiesPanel.registerProvider(LOW_PRIORITY, this);
}
CarepathPropertiesProvider.$inject = ['propertiesPanel', 'injector', 'translate'];

export default {
  __init__: ['carepathPropertiesProvider'],
  carepathPropertiesProvider: ['type', CarepathPropertiesProvider],
};

function carepathEntries(element) {
  const entries = [];
  const add = (id, component, isEdited) => entries.push({ id, component, isEdited });
  if (is(element, 'bpmn:Activity')) {
    add('carepath-role', Role, isSelectEntryEdited);
    add('carepath-form', Form, isSelectEntryEdited);
    add('carepath-due-in', DueIn, isTextFieldEntryEdited);
    add('carepath-education-module', EducationModule, isSelectEntryEdited);
    add('carepath-education-module-expression', EducationModuleExpression,
      isTextFieldEntryEdited);
    add('carepath-alert', Alert, isSelectEntryEdited);
    add('carepath-cycle', Cycle, isCheckboxEntryEdited);
  }
  if (is(element, 'bpmn:BusinessRuleTask')) {
    add('carepath-called-decision', CalledDecision, isSelectEntryEdited);
  }
  if (is(element, 'bpmn:ScriptTask')) {
    add('carepath-script', Script, isTextAreaEntryEdited);
  }
  if (is(element, 'bpmn:UserTask') || is(element, 'bpmn:ManualTask')) {
    add('carepath-instructions', Instructions, isTextAreaEntryEdited);
  }
  if (is(element, 'bpmn:Activity')) {
    add('carepath-pre-script', PreScript, isTextAreaEntryEdited);
    add('carepath-post-script', PostScript, isTextAreaEntryEdited);
  }
  if (is(element, 'bpmn:SequenceFlow') && hasCondition(element)) {
    add('carepath-condition', Condition, isTextAreaEntryEdited);
  }
  return entries;
}

function hasCondition(flow) {
  const bo = getBusinessObject(flow);
  const source = bo.get('sourceRef');
  return Boolean(bo.get('conditionExpression')) ||
    is(source, 'bpmn:ExclusiveGateway') || is(source, 'bpmn:InclusiveGateway');
}

// -- one carepath property per field

function useCarepath() {
  return useService('config.carepath') || {};
}

/** A select over `options` ([value, label]) keeping an unknown current value visible. */
function propertySelect(props, label, options, description) {
  const { element, id } = props;
  const injector = useService('injector');
  const name = props.property;
  return jsx(SelectEntry, {
    element, id, label, description,
    getValue: () => propertyValue(element, name),
    setValue: (value) => setProperty(injector, element, name, value),
    getOptions: () => {
      const current = propertyValue(element, name);
      const known = options.some(([value]) => value === current);
      return [...options, ...(known ? [] : [[current, current + ' (not known here)']])]
        .map(([value, text]) => ({ value, label: text }));
    },
  });
}

function propertyText(props, label, description) {
  const { element, id } = props;
  const injector = useService('injector');
  const debounce = useService('debounceInput');
  return jsx(TextFieldEntry, {
    element, id, label, description, debounce,
    getValue: () => propertyValue(element, props.property),
    setValue: (value) => setProperty(injector, element, props.property, (value || '').trim()),
  });
}

function Role(props) {
  const { roles = [] } = useCarepath();
  const lanes = getBusinessObject(props.element).get('lanes') || [];
  const lane = lanes.length ? lanes[0].get('name') : '';
  return propertySelect({ ...props, property: 'role' }, 'Role',
    [['', lane ? 'lane (from the lane: ' + lane + ')' : 'lane (none: set a role)'],
      ...roles.map((role) => [role, role.replace(/_/g, ' ')])],
    'Who works the task. Tasks in called processes have no lane, so they need a role.');
}

function Form(props) {
  const { formNames = () => [] } = useCarepath();
  return propertySelect({ ...props, property: 'form' }, 'Form',
    [['', '(no form)'], ...formNames().map((name) => [name, name])],
    'forms/<name>.json: what the task asks and how the answers are checked.');
}

function DueIn(props) {
  return propertyText({ ...props, property: 'due_in' }, 'Due in (expression)',
    "An ISO 8601 duration, e.g. iso_duration(days=settings['intake_due_days']).");
}

function EducationModule(props) {
  const { element, id } = props;
  const { educationModules = [] } = useCarepath();
  const injector = useService('injector');
  const literal = (value) => {
    const match = /^\s*(['"])([^'"]*)\1\s*$/.exec(value);
    return match ? match[2] : null;
  };
  return jsx(SelectEntry, {
    element, id, label: 'Education module',
    description: 'A module for every patient, or an expression (below) that picks one.',
    getValue: () => {
      const value = propertyValue(element, 'education_module');
      if (!value) { return ''; }
      const module = literal(value);
      return module !== null && educationModules.some(([known]) => known === module)
        ? module : EXPRESSION;
    },
    setValue: (value) => {
      if (value === EXPRESSION) { return; } // the expression field below holds it
      setProperty(injector, element, 'education_module', value ? "'" + value + "'" : '');
    },
    getOptions: () => [{ value: '', label: '(none)' },
      ...educationModules.map(([module, title]) => ({ value: module, label: title })),
      { value: EXPRESSION, label: 'an expression (below)' }],
  });
}

function EducationModuleExpression(props) {
  return propertyText({ ...props, property: 'education_module' },
    'Education module (expression)', "A module id in quotes, e.g. 'pain_science', or a " +
    'name from the process data, e.g. module.');
}

function Alert(props) {
  const { alerts = [] } = useCarepath();
  return propertySelect({ ...props, property: 'alert' }, 'Alert',
    [['', '(none)'], ...alerts.map((alert) => [alert, alert.replace(/_/g, ' ')])],
    'The worklist badge the open task shows.');
}

function Cycle(props) {
  const { element, id } = props;
  const injector = useService('injector');
  return jsx(CheckboxEntry, {
    element, id, label: 'Cycle: a loop restarts here',
    description: 'The continue-as-new anchor of a loop (weekly check-in and the like).',
    getValue: () => propertyValue(element, 'cycle').trim().toLowerCase() === 'true',
    setValue: (checked) => setProperty(injector, element, 'cycle', checked ? 'true' : ''),
  });
}

function CalledDecision(props) {
  const { element, id } = props;
  const { decisionIds = () => [] } = useCarepath();
  const injector = useService('injector');
  const type = 'spiffworkflow:CalledDecisionId';
  return jsx(SelectEntry, {
    element, id, label: 'Decision (DMN)',
    description: 'The decision table this task evaluates.',
    getValue: () => textExtension(element, type).trim(),
    setValue: (value) => setTextExtension(injector, element, type, value),
    getOptions: () => {
      const current = textExtension(element, type).trim();
      const ids = decisionIds();
      return [{ value: '', label: '(none)' }, ...ids.map((d) => ({ value: d, label: d })),
        ...(current && !ids.includes(current)
          ? [{ value: current, label: current + ' (no such decision in this draft)' }] : [])];
    },
  });
}

// -- scripts and conditions: text areas

function codeArea(props, label, description, getValue, setValue) {
  const debounce = useService('debounceInput');
  return jsx(TextAreaEntry, {
    element: props.element, id: props.id, label, description, debounce,
    monospace: true, rows: 4, autoResize: true, getValue, setValue,
  });
}

function textExtensionArea(props, type, label, description) {
  const injector = useService('injector');
  return codeArea(props, label, description,
    () => textExtension(props.element, type),
    (value) => setTextExtension(injector, props.element, type, value));
}

function Script(props) {
  const injector = useService('injector');
  const { element } = props;
  return codeArea(props, 'Script', 'Python run by the task (sandboxed; settings[...] and the ' +
    'helpers are available).',
  () => getBusinessObject(element).get('script') || '',
  (value) => injector.get('commandStack').execute('element.updateModdleProperties', {
    element, moddleElement: getBusinessObject(element), properties: { script: value || undefined },
  }));
}

function PreScript(props) {
  return textExtensionArea(props, 'spiffworkflow:PreScript', 'Pre-script',
    'Python run before the task starts.');
}

function PostScript(props) {
  return textExtensionArea(props, 'spiffworkflow:PostScript', 'Post-script',
    'Python run after the task completes (with its answers).');
}

function Instructions(props) {
  return textExtensionArea(props, 'spiffworkflow:InstructionsForEndUser',
    'Instructions for the person', 'Shown with the task.');
}

function Condition(props) {
  const { element } = props;
  const injector = useService('injector');
  return codeArea(props, 'Condition', 'A Python expression: this path is taken when it is ' +
    "true, e.g. red_flag_route == 'continue'. Empty: no condition.",
  () => {
    const condition = getBusinessObject(element).get('conditionExpression');
    return (condition && condition.get('body')) || '';
  },
  (value) => {
    const bo = getBusinessObject(element);
    const condition = bo.get('conditionExpression');
    const commandStack = injector.get('commandStack');
    const text = (value || '').trim();
    if (condition && text) {
      commandStack.execute('element.updateModdleProperties',
        { element, moddleElement: condition, properties: { body: text } });
      return;
    }
    const expression = text
      ? injector.get('bpmnFactory').create('bpmn:FormalExpression', { body: text }) : undefined;
    if (expression) { expression.$parent = bo; }
    injector.get('modeling').updateProperties(element, { conditionExpression: expression });
  });
}

// -- events: event:NAME (data keys) and event_if:NAME (condition), one list item per NAME

function eventNames(element) {
  const names = [];
  propertyList(element).forEach(({ name }) => {
    const match = /^event(?:_if)?:(.*)$/.exec(name);
    if (match && !names.includes(match[1])) { names.push(match[1]); }
  });
  return names;
}

function eventsGroup(element, injector, translate) {
  const items = eventNames(element).map((event, index) => {
    const id = 'carepath-event-' + index;
    return {
      id,
      label: event,
      entries: [
        { id: id + '-name', component: EventName, event },
        { id: id + '-keys', component: EventKeys, event },
        { id: id + '-condition', component: EventCondition, event },
      ],
      autoFocusEntry: id + '-name',
      remove: (domEvent) => {
        domEvent.stopPropagation();
        editProperties(injector, element, (list) => list.filter(
          (p) => p.name !== 'event:' + event && p.name !== 'event_if:' + event));
      },
    };
  });
  return {
    id: 'carepath-events',
    label: translate('carepath events'),
    component: ListGroup,
    element,
    items,
    shouldOpen: true,
    add: (domEvent) => {
      domEvent.stopPropagation();
      const taken = eventNames(element);
      let name = 'new_event';
      for (let n = 2; taken.includes(name); n += 1) { name = 'new_event_' + n; }
      editProperties(injector, element, (list) => [...list, { name: 'event:' + name, value: '' }]);
    },
  };
}

function EventName(props) {
  const { element, id, event } = props;
  const injector = useService('injector');
  const debounce = useService('debounceInput');
  return jsx(TextFieldEntry, {
    element, id, label: 'Event name', debounce,
    description: 'Written to the event log when the task completes.',
    getValue: () => event,
    validate: (value) => {
      if (!EVENT_NAME.test(value || '')) { return 'Letters, digits and _ only.'; }
      if (value !== event && eventNames(element).includes(value)) {
        return 'This task already has that event.';
      }
      return null;
    },
    setValue: (value) => {
      if (!value || value === event) { return; }
      editProperties(injector, element, (list) => list.map((p) => {
        if (p.name === 'event:' + event) { return { name: 'event:' + value, value: p.value }; }
        if (p.name === 'event_if:' + event) {
          return { name: 'event_if:' + value, value: p.value };
        }
        return p;
      }));
    },
  });
}

function EventKeys(props) {
  const { element, id, event } = props;
  const injector = useService('injector');
  const debounce = useService('debounceInput');
  return jsx(TextFieldEntry, {
    element, id, label: 'Data keys', debounce,
    description: 'Comma-separated names from the process data, e.g. age, red_flags.',
    getValue: () => propertyValue(element, 'event:' + event),
    // Kept even when empty: the event is then emitted without data.
    setValue: (value) => editProperties(injector, element, (list) => {
      const text = (value || '').trim();
      return list.some((p) => p.name === 'event:' + event)
        ? list.map((p) => (p.name === 'event:' + event ? { name: p.name, value: text } : p))
        : [...list, { name: 'event:' + event, value: text }];
    }),
  });
}

function EventCondition(props) {
  return jsx(PropertyTextField, { ...props, property: 'event_if:' + props.event,
    label: 'Only when (expression)',
    description: 'Emit the event only when this is true. Empty: always.' });
}

function PropertyTextField(props) {
  return propertyText(props, props.label, props.description);
}
