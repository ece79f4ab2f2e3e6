// The form builder: a YAML editor with line numbers whose every change (after a 300 ms pause)
// is checked by the server (POST /form_builder/preview), then shown either as the problems
// (each with its line; a click moves the cursor there) or as the rendered form and its label
// JSON. A logged-in user can submit the form for review (POST /form_builder/proposals).

import { el } from "/static/ui/dom.js";
import { messageFormatter } from "/static/ui/messages.js";
import { fillLanguages, languagesOf, mountPreview } from "./preview.js";

const DELAY = 300;
const KEY = /^[a-z0-9_]{1,64}$/;
const byId = (id) => document.getElementById(id);

const config = JSON.parse(byId("form-builder-config").textContent);
const msg = messageFormatter(config.messages || {}, config.lang || "en");
const yamlArea = byId("form-yaml");
const i18nArea = byId("form-i18n");
const gutter = byId("form-gutter");
const errorsList = byId("form-errors");
const preview = byId("form-preview");
const valueView = byId("form-value");
const languages = byId("form-language");
const status = byId("form-status");
const fieldsBody = byId("form-fields");
const keyInput = byId("form-key");
const proposeForm = byId("form-propose");
const submitResult = byId("form-submit-result");

let timer = null;
let serial = 0;
let controller = null;
let lastForm = null;
let rendered = null;
let lastValue = null; // the preview's label, kept across re-renders and errors
let errorLines = new Set();
let gutterState = "";


// --- the editor ---------------------------------------------------------------------------

function drawGutter() {
  const count = yamlArea.value.split("\n").length;
  const state = `${count}:${[...errorLines].join(",")}`;
  if (state !== gutterState) {
    gutterState = state;
    const numbers = [];
    for (let line = 1; line <= count; line++) {
      numbers.push(el("span", errorLines.has(line) ? { class: "fb-gutter-error" } : {}, String(line)), "\n");
    }
    gutter.replaceChildren(...numbers);
  }
  gutter.scrollTop = yamlArea.scrollTop;
}

/** Put the cursor on `line` (at `column` if given), show it and focus the editor. */
function goToLine(line, column) {
  const lines = yamlArea.value.split("\n");
  const index = Math.min(Math.max(line, 1), lines.length) - 1;
  let start = 0;
  for (let i = 0; i < index; i++) start += lines[i].length + 1;
  const at = start + Math.min(Math.max((column || 1) - 1, 0), lines[index].length);
  yamlArea.focus();
  yamlArea.setSelectionRange(at, at);
  const height = parseFloat(getComputedStyle(yamlArea).lineHeight) || 18;
  yamlArea.scrollTop = Math.max(0, (index - 3) * height);
  drawGutter();
}

// --- what the server answered -------------------------------------------------------------

function showProblems(problems) {
  errorLines = new Set(problems.filter((p) => p.line).map((p) => p.line));
  errorsList.replaceChildren(
    ...problems.map((problem) => {
      if (!problem.line) return el("li", { class: "fb-error" }, problem.message);
      const text = problem.column
        ? msg("wikiloom-formbuilder-error-line-column", problem.line, problem.column, problem.message)
        : msg("wikiloom-formbuilder-error-line", problem.line, problem.message);
      const button = el("button", { type: "button", class: "fb-error-line", "data-line": problem.line }, text);
      button.addEventListener("click", () => goToLine(problem.line, problem.column));
      return el("li", { class: "fb-error" }, button);
    }),
  );
  errorsList.hidden = problems.length === 0;
  yamlArea.setAttribute("aria-invalid", errorLines.size ? "true" : "false");
  drawGutter();
}

function problemsOf(answer, fallback) {
  if (answer && Array.isArray(answer.errors) && answer.errors.length) return answer.errors;
  const message = answer && answer.error ? answer.error.message : fallback;
  return [{ line: null, column: null, message }];
}

function showFailure(problems) {
  showProblems(problems);
  if (rendered) lastValue = rendered.value();
  lastForm = null;
  rendered = null;
  preview.replaceChildren();
  preview.hidden = true;
  valueView.hidden = true;
  valueView.textContent = "";
  fieldsBody.replaceChildren();
  status.textContent = msg("wikiloom-formbuilder-status-errors", problems.length);
  status.className = "fb-status fb-status--error";
}

function showFields(fields) {
  fieldsBody.replaceChildren(
    ...fields.map((field) =>
      el(
        "tr",
        {},
        el("td", {}, el("code", {}, field.name)),
        el("td", {}, field.widget),
        el("td", {}, field.kind),
        el("td", {}, field.options.map((option) => JSON.stringify(option)).join(", ")),
        el("td", {}, field.required ? "✓" : ""),
        el("td", { class: "num" }, String(field.line)),
      ),
    ),
  );
}

function showPreview(answer) {
  showProblems([]);
  lastForm = answer.form;
  const lang = fillLanguages(languages, languagesOf(lastForm.i18n), config.lang);
  const previous = rendered ? rendered.value() : lastValue;
  preview.hidden = false;
  valueView.hidden = false;
  try {
    rendered = mountPreview(preview, valueView, lastForm, lang, previous);
  } catch (error) {
    showFailure([{ line: null, column: null, message: String(error) }]);
    return;
  }
  showFields(answer.fields);
  status.textContent = msg("wikiloom-formbuilder-status-ok", answer.fields.length);
  status.className = "fb-status fb-status--ok";
}

// --- checking -----------------------------------------------------------------------------

function readI18n() {
  const text = i18nArea.value.trim();
  if (!text) return { ok: true, value: null };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, message: msg("wikiloom-formbuilder-i18n-invalid", error.message) };
  }
}

function source() {
  const i18n = readI18n();
  if (!i18n.ok) return { problem: i18n.message };
  const body = { yaml: yamlArea.value, i18n: i18n.value };
  if (keyInput && KEY.test(keyInput.value)) body.key = keyInput.value;
  return { body };
}

async function post(url, body, signal) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
    credentials: "same-origin",
    signal,
  });
  let answer = null;
  try {
    answer = await response.json();
  } catch {
    answer = null;
  }
  return { response, answer };
}

async function check() {
  const mine = ++serial;
  const { body, problem } = source();
  if (problem) {
    showFailure([{ line: null, column: null, message: problem }]);
    return;
  }
  if (controller) controller.abort();
  controller = new AbortController();
  status.textContent = msg("wikiloom-formbuilder-status-checking");
  status.className = "fb-status";
  let result;
  try {
    result = await post("/form_builder/preview", body, controller.signal);
  } catch (error) {
    if (error.name === "AbortError" || mine !== serial) return;
    showFailure([{ line: null, column: null, message: msg("wikiloom-formbuilder-status-failed", error.message) }]);
    return;
  }
  if (mine !== serial) return;
  if (result.response.ok && result.answer) showPreview(result.answer);
  else showFailure(problemsOf(result.answer, `${result.response.status} ${result.response.statusText}`));
}

function schedule() {
  clearTimeout(timer);
  timer = setTimeout(check, DELAY);
}

// --- submitting ---------------------------------------------------------------------------

function showSubmitted(kind, ...children) {
  submitResult.replaceChildren(
    el("div", { class: `cdx-message cdx-message--${kind}` }, el("p", { class: "cdx-message__content" }, ...children)),
  );
}

async function submit(event) {
  event.preventDefault();
  const { body, problem } = source();
  if (problem) {
    showSubmitted("error", msg("wikiloom-formbuilder-submit-failed", problem));
    return;
  }
  body.key = keyInput.value;
  body.note = byId("form-note").value;
  const button = byId("form-submit");
  button.disabled = true;
  try {
    const { response, answer } = await post("/form_builder/proposals", body);
    if (response.ok && answer) {
      const link = el("a", { href: answer.proposal.url }, msg("wikiloom-formbuilder-submit-view"));
      showSubmitted("success", msg("wikiloom-formbuilder-submit-done", answer.proposal.id), " ", link);
    } else {
      const problems = problemsOf(answer, `${response.status} ${response.statusText}`);
      if (problems.some((p) => p.line)) showFailure(problems);
      const message = answer && answer.error ? answer.error.message : problems[0].message;
      showSubmitted("error", msg("wikiloom-formbuilder-submit-failed", message));
    }
  } catch (error) {
    showSubmitted("error", msg("wikiloom-formbuilder-submit-failed", error.message));
  } finally {
    button.disabled = false;
  }
}

// --- wiring -------------------------------------------------------------------------------

yamlArea.addEventListener("input", () => {
  drawGutter();
  schedule();
});
yamlArea.addEventListener("scroll", () => {
  gutter.scrollTop = yamlArea.scrollTop;
});
i18nArea.addEventListener("input", schedule);
if (keyInput) keyInput.addEventListener("input", schedule);
languages.addEventListener("change", () => {
  if (!lastForm) return;
  const previous = rendered ? rendered.value() : null;
  rendered = mountPreview(preview, valueView, lastForm, languages.value, previous);
});
if (proposeForm) proposeForm.addEventListener("submit", submit);

drawGutter();
check();
