// Forms generated from a JSON Schema (a destination's settings): one field per property, typed by
// the schema, with its description as help. Values are read back into a settings object.
import { add, h } from './dom.js';

/** Builds the fields of an object schema; `read()` returns the settings (unchanged secrets left out). */
export function schemaForm(schema, values = {}, secrets = []) {
  const props = schema?.properties ?? {};
  const required = new Set(schema?.required ?? []);
  const fields = [];
  const el = h('div', { class: 'schema-form' });
  for (const [key, prop] of Object.entries(props)) {
    const current = values[key];
    const secret = secrets.includes(key);
    let input;
    const type = Array.isArray(prop.type) ? prop.type.find((t) => t !== 'null') : prop.type;
    if (prop.enum) {
      input = h('select', { name: key }, prop.enum.map((v) => h('option', { value: String(v), selected: v === (current ?? prop.default) }, String(v))));
    } else if (type === 'boolean') {
      input = h('input', { type: 'checkbox', name: key, checked: Boolean(current ?? prop.default) });
    } else if (type === 'number' || type === 'integer') {
      input = h('input', { type: 'number', name: key, value: current ?? prop.default ?? '' });
    } else if (type === 'object' || type === 'array' || !type) {
      input = h('textarea', { name: key, rows: 3, value: current === undefined ? '' : JSON.stringify(current, null, 2) });
    } else {
      input = h('input', {
        type: secret ? 'password' : 'text',
        name: key,
        size: 50,
        value: secret ? '' : (current ?? ''),
        placeholder: secret && current ? `unchanged (${current})` : (prop.default ?? ''),
      });
    }
    fields.push({ key, input, type, secret, hadValue: current !== undefined });
    add(
      el,
      h('label', { for: `f-${key}` }, key, required.has(key) ? ' *' : ''),
      Object.assign(input, { id: `f-${key}` }),
      prop.description ? h('div', { class: 'muted' }, prop.description) : null,
    );
  }
  const read = () => {
    const out = {};
    for (const f of fields) {
      const v = f.input;
      if (f.type === 'boolean') out[f.key] = v.checked;
      else if (v.value === '') continue;
      else if (f.type === 'number' || f.type === 'integer') out[f.key] = Number(v.value);
      else if (v.tagName === 'TEXTAREA') out[f.key] = JSON.parse(v.value);
      else out[f.key] = v.value;
    }
    return out;
  };
  return { el, read };
}
