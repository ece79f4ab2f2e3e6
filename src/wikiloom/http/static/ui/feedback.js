// Feedback on scores: the Agree / Disagree control of a score page (models/score.html) and the
// "campaign from these disputes" form of a disputes page (models/disputes.html). Each posts JSON
// to this server's feedback API (http/feedback.py) and shows its answer inline.

import { callServer } from "./api.js";
import { el } from "./dom.js";
import { messageFormatter } from "./messages.js";

const config = JSON.parse(document.getElementById("wl-feedback-config").textContent);
const msg = messageFormatter(config.messages, config.lang);
const key = (name) => `wikiloom-feedback-${name}`;
const path = (...parts) => parts.map(encodeURIComponent).join("/");

/** POST `body` as JSON with the session cookie; the answer, or throws the server's message. */
function postJson(url, body) {
  const init = {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  };
  return callServer(url, init, (reason) => msg(key("unreachable"), reason));
}

/** Show a Codex message (`error` or `success`) in the form's result area. */
function show(form, kind, ...content) {
  const box = el(
    "div",
    { class: `cdx-message cdx-message--${kind}`, role: kind === "error" ? "alert" : "status", "data-kind": kind },
    el("span", { class: "cdx-message__icon" }),
    el("div", { class: "cdx-message__content" }, ...content),
  );
  form.querySelector("[data-result]").replaceChildren(box);
}

/** The Agree / Disagree form: the correct label is asked only when disagreeing. */
function feedbackForm(form) {
  const field = form.querySelector("#feedback-label-field");
  const select = form.querySelector("#feedback-correct-label");
  const verdict = () => form.querySelector("input[name=verdict]:checked")?.value;
  const sync = () => {
    const disagree = verdict() === "disagree";
    if (field) field.hidden = !disagree;
    if (select) select.disabled = !disagree;
  };
  form.addEventListener("change", (event) => {
    if (event.target.name === "verdict") sync();
  });
  sync();
  return async () => {
    const chosen = verdict();
    if (!chosen) {
      show(form, "error", msg(key("choose-verdict")));
      form.querySelector("input[name=verdict]").focus();
      return;
    }
    const body = {
      wiki: config.wiki,
      model: config.model,
      model_version: config.version || null,
      rev_id: config.revId,
      verdict: chosen,
      score: config.score,
    };
    if (chosen === "disagree" && select && select.value !== "") body.correct_label = JSON.parse(select.value);
    const comment = form.querySelector("#feedback-comment").value.trim();
    if (comment) body.comment = comment;
    const { feedback } = await postJson("/feedback/", body);
    form.dataset.feedbackId = String(feedback.id);
    show(form, "success", msg(key(feedback.updated ? "updated" : "saved")));
  };
}

/** The admins' form that sends the open disputes to a new labeling campaign. */
function campaignForm(form) {
  return async () => {
    const data = new FormData(form);
    const body = { form: data.get("form") };
    const name = String(data.get("name") || "").trim();
    if (name) body.name = name;
    const perTask = String(data.get("labels_per_task") || "").trim();
    if (perTask) body.labels_per_task = Number(perTask);
    const answer = await postJson(`/feedback/${path(config.wiki, config.model)}/disputes/campaign`, body);
    for (const row of document.querySelectorAll("#disputes-table .wl-dispute")) {
      row.dataset.status = "queued";
      row.querySelector(".wl-dispute-status").textContent = msg(key("status-queued"));
    }
    form.querySelector("button[type=submit]").dataset.done = "true";
    show(
      form, "success", `${msg(key("campaign-created"), answer.campaign.name, answer.tasks)} `,
      el("a", { href: answer.url, id: "disputes-campaign-manage" }, msg(key("campaign-manage"))),
    );
  };
}

const forms = { "feedback-form": feedbackForm, "disputes-campaign": campaignForm };
for (const [id, make] of Object.entries(forms)) {
  const form = document.getElementById(id);
  if (!form) continue;
  const handler = make(form);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    if (button.dataset.done) return;
    button.disabled = true;
    form.setAttribute("aria-busy", "true");
    try {
      await handler();
    } catch (error) {
      show(form, "error", error.message);
    } finally {
      button.disabled = Boolean(button.dataset.done);
      form.removeAttribute("aria-busy");
    }
  });
}
