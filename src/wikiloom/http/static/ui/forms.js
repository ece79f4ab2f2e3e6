// Labeling forms: Wiki labels' OOjs UI widget configs rendered as accessible HTML with Codex
// classes, yielding the label JSON the old gadget yielded (`value()`).
//
// Every string of the form `"<key>"` is a message, resolved along a language chain. Text from a
// form becomes text nodes; only an HtmlSnippet's content is HTML, and it is sanitized first.

import DOMPurify from "../vendor/purify.es.mjs";
import { el } from "./dom.js";

const MESSAGE = /^<([A-Za-z0-9][A-Za-z0-9_.:-]*)>$/;
/** Shortcut keys, in the order options get them (S, Z, Enter and arrows are the app's). */
export const OPTION_KEYS = [..."1234567890qwertyuiopadfghjklcvbnm"];

/** A `resolve(text)` replacing `"<key>"` with the first language of `chain` that has it. */
export function formResolver(i18n, chain) {
  const keysOnly = chain[0] === "qqx";
  return (text) => {
    if (typeof text !== "string") return text == null ? "" : String(text);
    const found = MESSAGE.exec(text);
    if (!found) return text;
    if (keysOnly) return `(${found[1]})`;
    for (const code of chain) {
      const message = i18n?.[code]?.[found[1]];
      if (typeof message === "string") return message;
    }
    return text;
  };
}

let serial = 0;
const uid = (prefix) => `${prefix}-${++serial}`;

/** Text or an HtmlSnippet config (`{class: HtmlSnippet, content}`) as a node. */
function content(value, resolve) {
  if (value && typeof value === "object" && value.class === "HtmlSnippet") {
    const span = el("span", { class: "wl-html" });
    span.innerHTML = DOMPurify.sanitize(resolve(value.content), { USE_PROFILES: { html: true } });
    return span;
  }
  return document.createTextNode(resolve(value));
}

function kbd(key) {
  return el("kbd", { class: "wl-key", "aria-hidden": "true" }, key.toUpperCase());
}

/** Builds one form; collects its named values, its questions and its shortcut keys. */
class Builder {
  constructor(resolve, unsureLabel) {
    this.resolve = resolve;
    this.unsureLabel = unsureLabel;
    this.values = new Map(); // name -> () => value
    this.setters = new Map(); // name -> (value) => void
    this.questions = []; // {name, label, answered(), focus()}
    this.shortcuts = new Map(); // key -> {run(), element}
    this.unsureField = null; // the form's own "unsure" checkbox, if it has one
  }

  /** A question was answered "unsure": so is the label, where the form has a box for it. */
  markUnsure() {
    if (this.unsureField) this.unsureField.checked = true;
  }

  shortcut(element, run) {
    const key = OPTION_KEYS[this.shortcuts.size];
    if (key === undefined) return null;
    this.shortcuts.set(key, { run, element });
    element.setAttribute("aria-keyshortcuts", key.toUpperCase());
    return key;
  }

  widget(config, context) {
    const make = WIDGETS[config?.class];
    if (!make) {
      return el("p", { class: "cdx-message cdx-message--error" }, `Unknown widget ${config?.class}`);
    }
    return make(this, config, context || {});
  }
}

function fieldLayout(builder, config) {
  const field = el("div", { class: `cdx-field wl-field wl-align-${config.align || "left"}` });
  const labelId = uid("wl-label");
  const helpId = config.help ? uid("wl-help") : null;
  const labelText = config.label ? content(config.label, builder.resolve) : null;
  const context = { labelId: labelText ? labelId : null, helpId, label: config.label };
  const widget = builder.widget(config.fieldWidget, context);
  const inputId = widget.dataset?.inputId;
  const control = el("div", { class: "cdx-field__control" }, widget);
  if (config.align === "inline") field.append(control);
  if (labelText) {
    const label = el(
      inputId ? "label" : "span",
      { class: "cdx-label__label", id: labelId, for: inputId },
      el("span", { class: "cdx-label__label__text" }, labelText),
    );
    field.append(el("div", { class: "cdx-label" }, label));
  }
  if (config.align !== "inline") field.append(control);
  if (helpId) {
    field.append(
      el("div", { class: "cdx-field__help-text", id: helpId }, content(config.help, builder.resolve)),
    );
  }
  return field;
}

function fieldsetLayout(builder, config) {
  const legend = config.label ? el("legend", { class: "cdx-label" }, content(config.label, builder.resolve)) : null;
  const fieldset = el("fieldset", { class: "cdx-field wl-fieldset" }, legend);
  if (config.iconTitle) fieldset.title = builder.resolve(config.iconTitle);
  for (const item of config.items || []) fieldset.append(builder.widget(item));
  return fieldset;
}

/** A single choice: toggle buttons (ButtonSelectWidget) or radios (RadioSelectWidget). */
function selectWidget(builder, config, context, radios) {
  const name = config.name;
  const group = el("div", {
    class: radios ? "wl-radios" : "cdx-toggle-button-group wl-choices",
    role: "radiogroup",
    "aria-labelledby": context.labelId,
    "aria-describedby": context.helpId,
  });
  const options = [];
  let selected = null;
  let unsure = false;
  const unsureButton = el("button", {
    type: "button",
    class: "cdx-toggle-button cdx-toggle-button--framed cdx-toggle-button--quiet wl-unsure",
    "aria-pressed": "false",
    "data-unsure": name || "",
  });
  const paint = () => {
    for (const option of options) {
      const on = option.index === selected;
      if (radios) {
        option.control.checked = on;
      } else {
        option.control.setAttribute("aria-checked", String(on));
        option.control.classList.toggle("cdx-toggle-button--toggled-on", on);
        option.control.tabIndex = on || (selected === null && option.index === 0) ? 0 : -1;
      }
    }
    unsureButton.setAttribute("aria-pressed", String(unsure));
    unsureButton.classList.toggle("cdx-toggle-button--toggled-on", unsure);
  };
  const choose = (index, exact = false) => {
    selected = selected === index && !exact ? null : index;
    unsure = false;
    paint();
    group.dispatchEvent(new Event("change", { bubbles: true }));
  };
  const groupName = uid("wl-group");
  (config.items || []).forEach((item, index) => {
    const label = content(item.label ?? String(item.data), builder.resolve);
    let control;
    let node;
    if (radios) {
      const id = uid("wl-radio");
      control = el("input", { class: "cdx-radio__input", type: "radio", id, name: groupName });
      node = el("div", { class: "cdx-radio wl-radio" },
        el("div", { class: "cdx-radio__wrapper" }, control, el("span", { class: "cdx-radio__icon" }),
          el("div", { class: "cdx-radio__label cdx-label" },
            el("label", { class: "cdx-label__label", for: id }, el("span", { class: "cdx-label__label__text" }, label)))));
      control.addEventListener("change", () => choose(index, true));
    } else {
      const flags = (item.flags || []).map((flag) => `wl-flag-${flag}`).join(" ");
      control = el(
        "button",
        { type: "button", role: "radio", "aria-checked": "false", class: `cdx-toggle-button cdx-toggle-button--framed ${flags}` },
        label,
      );
      node = control;
      control.addEventListener("click", () => choose(index));
    }
    const title = item.title || item.indicatorTitle;
    if (title) node.title = builder.resolve(title);
    control.dataset.value = JSON.stringify(item.data ?? null);
    const key = builder.shortcut(control, () => choose(index));
    if (key) (radios ? node.querySelector(".cdx-label__label__text") : control).prepend(kbd(key));
    options.push({ index, control, data: item.data ?? null });
    group.append(node);
    if (item.name) builder.values.set(item.name, () => selected === index);
  });
  group.addEventListener("keydown", (event) => {
    if (radios) return; // native radios move with the arrow keys themselves
    const step = { ArrowDown: 1, ArrowUp: -1 }[event.key];
    if (!step) return;
    event.preventDefault();
    event.stopPropagation();
    const next = ((selected ?? -1) + step + options.length) % options.length;
    choose(next);
    options[next].control.focus();
  });
  if (name) {
    builder.values.set(name, () => (selected === null ? null : options[selected].data));
    builder.setters.set(name, (value) => {
      const found = options.find((o) => JSON.stringify(o.data) === JSON.stringify(value));
      selected = found ? found.index : null;
      unsure = false;
      paint();
    });
    if (builder.unsureLabel) unsureButton.append(builder.unsureLabel);
    unsureButton.addEventListener("click", () => {
      unsure = !unsure;
      selected = null;
      paint();
      builder.markUnsure();
      group.dispatchEvent(new Event("change", { bubbles: true }));
    });
    if (builder.unsureLabel) {
      const key = builder.shortcut(unsureButton, () => unsureButton.click());
      if (key) unsureButton.prepend(kbd(key));
    }
    builder.questions.push({
      name,
      label: context.label ? builder.resolve(context.label) : name,
      answered: () => selected !== null || unsure,
      focus: () => (options[selected ?? 0]?.control || unsureButton).focus(),
    });
  }
  paint();
  const wrapper = el("div", { class: "wl-question" }, group);
  if (name && builder.unsureLabel) wrapper.append(unsureButton);
  return wrapper;
}

function checkbox(builder, config, context) {
  const id = uid("wl-check");
  const input = el("input", { class: "cdx-checkbox__input", type: "checkbox", id, name: config.name, "aria-describedby": context.helpId });
  const box = el(
    "span",
    { class: "cdx-checkbox cdx-checkbox--inline" },
    el("span", { class: "cdx-checkbox__wrapper" }, input, el("span", { class: "cdx-checkbox__icon" })),
  );
  box.dataset.inputId = id;
  if (config.selected === true) input.checked = true;
  const key = builder.shortcut(input, () => {
    input.checked = !input.checked;
    input.dispatchEvent(new Event("change", { bubbles: true }));
  });
  if (key) box.append(kbd(key));
  if (config.name) {
    builder.values.set(config.name, () => input.checked);
    builder.setters.set(config.name, (value) => { input.checked = value === true; });
    if (config.name === "unsure") builder.unsureField = input;
  }
  return box;
}

function textInput(builder, config, context) {
  const id = uid("wl-text");
  const multiline = config.multiline === true || config.class === "MultilineTextInputWidget";
  const attributes = {
    id,
    name: config.name,
    class: multiline ? "cdx-text-area__textarea" : "cdx-text-input__input",
    maxlength: config.maxLength,
    required: config.required === true,
    placeholder: config.placeholder ? builder.resolve(config.placeholder) : null,
    "aria-describedby": context.helpId,
  };
  const input = multiline ? el("textarea", { rows: config.rows || 3, ...attributes }) : el("input", { type: "text", ...attributes });
  const box = el("div", { class: multiline ? "cdx-text-area" : "cdx-text-input" }, input);
  box.dataset.inputId = id;
  if (config.name) {
    builder.values.set(config.name, () => input.value); // "" when empty, as the old gadget
    builder.setters.set(config.name, (value) => { input.value = value ?? ""; });
  }
  return box;
}

function dropdown(builder, config, context) {
  const id = uid("wl-select");
  const select = el("select", { id, class: "cdx-select", name: config.name, "aria-describedby": context.helpId });
  select.append(el("option", { value: "" }, "—"));
  const options = config.options || [];
  options.forEach((option, index) => {
    const node = el("option", { value: String(index) }, builder.resolve(option.label ?? String(option.data)));
    const key = builder.shortcut(node, () => {
      select.value = String(index);
      select.dispatchEvent(new Event("change", { bubbles: true }));
    });
    if (key) node.prepend(`${key.toUpperCase()} · `);
    select.append(node);
  });
  const box = el("span", { class: "wl-dropdown" }, select);
  box.dataset.inputId = id;
  if (config.name) {
    builder.values.set(config.name, () => (select.value === "" ? null : options[Number(select.value)].data ?? null));
    builder.setters.set(config.name, (value) => {
      const index = options.findIndex((o) => JSON.stringify(o.data) === JSON.stringify(value));
      select.value = index < 0 ? "" : String(index);
    });
    builder.questions.push({
      name: config.name,
      label: context.label ? builder.resolve(context.label) : config.name,
      answered: () => select.value !== "",
      focus: () => select.focus(),
    });
  }
  return box;
}

function labelWidget(builder, config) {
  return el("div", { class: "wl-static" }, content(config.label, builder.resolve));
}

/** Checkboxes over a vocabulary; `value` of the checked entries, in order. */
function checklist(builder, entries, legendText) {
  const list = el("fieldset", { class: "wl-checklist" });
  if (legendText) list.append(el("legend", {}, builder.resolve(legendText)));
  const inputs = entries.map((entry) => {
    const id = uid("wl-term");
    const input = el("input", { type: "checkbox", class: "cdx-checkbox__input", id });
    input.dataset.value = JSON.stringify(entry.value);
    const description = entry.description ? el("span", { class: "cdx-label__description" }, builder.resolve(entry.description)) : null;
    list.append(
      el("div", { class: "cdx-checkbox" },
        el("div", { class: "cdx-checkbox__wrapper" }, input, el("span", { class: "cdx-checkbox__icon" }),
          el("div", { class: "cdx-checkbox__label cdx-label" },
            el("label", { class: "cdx-label__label", for: id }, el("span", { class: "cdx-label__label__text" }, builder.resolve(entry.label ?? entry.value))),
            description))),
    );
    return { input, value: entry.value };
  });
  return { list, inputs };
}

function semantics(builder, config) {
  const { list, inputs } = checklist(builder, config.meanings || [], config.meaningsLabel);
  if (config.name) {
    builder.values.set(config.name, () => {
      const chosen = inputs.filter((i) => i.input.checked).map((i) => i.value);
      return chosen.length || config.required ? chosen : null;
    });
    builder.setters.set(config.name, (value) => {
      for (const i of inputs) i.input.checked = Array.isArray(value) && value.includes(i.value);
    });
  }
  return list;
}

/** Operations as a grid of checkboxes: objects (rows) × actions (columns). */
function operationsGrid(builder, config, caption) {
  const table = el("table", { class: "cdx-table__table wl-operations" });
  if (caption) table.append(el("caption", {}, caption));
  const head = el("tr", {}, el("td"));
  for (const action of config.actions) head.append(el("th", { scope: "col" }, builder.resolve(action.label ?? action.value)));
  table.append(el("thead", {}, head));
  const body = el("tbody");
  const cells = [];
  for (const object of config.objects) {
    const row = el("tr", {}, el("th", { scope: "row" }, builder.resolve(object.label ?? object.value)));
    for (const action of config.actions) {
      const input = el("input", { type: "checkbox", "aria-label": `${builder.resolve(object.label ?? object.value)}: ${builder.resolve(action.label ?? action.value)}` });
      cells.push({ input, operation: { object: object.value, action: action.value } });
      row.append(el("td", {}, input));
    }
    body.append(row);
  }
  table.append(body);
  const value = () => cells.filter((c) => c.input.checked).map((c) => ({ ...c.operation }));
  const set = (operations) => {
    for (const c of cells) {
      c.input.checked = Array.isArray(operations) && operations.some((o) => o.object === c.operation.object && o.action === c.operation.action);
    }
  };
  return { table, value, set };
}

function syntacticOperations(builder, config) {
  const grid = operationsGrid(builder, config, config.label ? builder.resolve(config.label) : null);
  if (config.name) {
    builder.values.set(config.name, () => {
      const chosen = grid.value();
      return chosen.length || config.required ? chosen : null;
    });
    builder.setters.set(config.name, grid.set);
  }
  return el("div", { class: "cdx-table" }, grid.table);
}

function semanticOperations(builder, config) {
  const box = el("div", { class: "wl-semantic-operations" });
  const grids = (config.meanings || []).map((meaning) => {
    const grid = operationsGrid(builder, config, builder.resolve(meaning.label ?? meaning.value));
    box.append(el("details", {}, el("summary", {}, builder.resolve(meaning.label ?? meaning.value)), grid.table));
    return { meaning: meaning.value, grid };
  });
  if (config.name) {
    builder.values.set(config.name, () => {
      const chosen = {};
      for (const { meaning, grid } of grids) {
        const operations = grid.value();
        if (operations.length) chosen[meaning] = operations;
      }
      return Object.keys(chosen).length || config.required ? chosen : null;
    });
    builder.setters.set(config.name, (value) => {
      for (const { meaning, grid } of grids) grid.set(value?.[meaning]);
    });
  }
  return box;
}

const WIDGETS = {
  FieldLayout: fieldLayout,
  FieldsetLayout: fieldsetLayout,
  ButtonSelectWidget: (b, c, x) => selectWidget(b, c, x, false),
  RadioSelectWidget: (b, c, x) => selectWidget(b, c, x, true),
  CheckboxInputWidget: checkbox,
  ToggleSwitchWidget: checkbox,
  ToggleButtonWidget: checkbox,
  TextInputWidget: textInput,
  MultilineTextInputWidget: textInput,
  DropdownInputWidget: dropdown,
  LabelWidget: labelWidget,
  HtmlSnippet: (b, c) => el("div", { class: "wl-static" }, content(c, b.resolve)),
  SemanticsSelector: semantics,
  SemanticOperationsSelector: semanticOperations,
  SyntacticOperationsSelector: syntacticOperations,
};

/**
 * Render a form config (`{name, title, fields, i18n}`); `options.unsure` labels a per-question
 * "unsure" toggle (none without it), which answers the question with null.
 *
 * Returns `{element, value(), set(label), reset(), questions, shortcuts}`: `value()` is the label
 * JSON, `questions` the single-choice questions (for "answer or mark unsure"), `shortcuts` a
 * Map of key -> {run, element}.
 */
export function renderForm(config, resolve, options = {}) {
  const builder = new Builder(resolve, options.unsure || null);
  const element = el("form", { class: "wl-form", novalidate: true, "data-form": config.name || "" });
  element.addEventListener("submit", (event) => event.preventDefault());
  for (const field of config.fields || []) element.append(builder.widget(field));
  const initial = () => Object.fromEntries([...builder.values].map(([name, read]) => [name, read()]));
  const blank = initial();
  return {
    element,
    questions: builder.questions,
    shortcuts: builder.shortcuts,
    value: initial,
    set(label) {
      for (const [name, set] of builder.setters) set(label && name in label ? label[name] : blank[name]);
    },
    reset() {
      this.set(blank);
    },
  };
}
