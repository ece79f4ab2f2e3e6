// The organizer pages: each <form data-api="…"> calls the campaign management API of this server
// (http/organizing.py) and shows its answer inline: the server's error message, or what was done.

import { callServer } from "../ui/api.js";
import { messageFormatter } from "../ui/messages.js";

const config = JSON.parse(document.getElementById("wl-campaigns-config").textContent);
const msg = messageFormatter(config.messages, config.lang);
const key = (name) => `wikiloom-campaigns-${name}`;

/** POST `body` to `url` with the session cookie; the parsed JSON answer, or throws its message. */
function post(url, body, headers = {}) {
  const init = { method: "POST", credentials: "same-origin", headers, body };
  return callServer(url, init, (reason) => msg(key("unreachable"), reason));
}

/** Show a Codex message (`error` or `success`) in the form's result area; `extra` nodes follow the text. */
function show(form, kind, text, ...extra) {
  const area = form.querySelector("[data-result]");
  const box = document.createElement("div");
  box.className = `cdx-message cdx-message--${kind}`;
  box.setAttribute("role", kind === "error" ? "alert" : "status");
  box.dataset.kind = kind;
  const icon = document.createElement("span");
  icon.className = "cdx-message__icon";
  const content = document.createElement("div");
  content.className = "cdx-message__content";
  content.append(text, ...extra);
  box.append(icon, content);
  area.replaceChildren(box);
}

function link(href, text) {
  const a = document.createElement("a");
  a.href = href;
  a.textContent = text;
  return a;
}

/** The form's fields as form-encoded data, without file inputs. */
function encoded(form) {
  const data = new URLSearchParams();
  for (const [name, value] of new FormData(form)) {
    if (typeof value === "string") data.append(name, value);
  }
  return data;
}

const handlers = {
  async create(form) {
    const { campaign } = await post(`/campaigns/${config.wiki}/`, encoded(form));
    const base = `/ui/${config.wiki}/campaigns/${campaign.id}/`;
    show(
      form, "success", `${msg(key("created"), campaign.name)} `,
      link(`${base}manage/`, msg(key("link-manage"))), " · ",
      link(base, msg(key("link-statistics"))),
    );
  },

  async settings(form) {
    const { campaign } = await post(`/campaigns/${config.wiki}/${config.campaign.id}/settings/`, encoded(form));
    document.title = document.title.replace(config.campaign.name, campaign.name);
    const heading = document.querySelector("h1");
    if (heading) heading.textContent = msg(key("manage-title"), campaign.name);
    config.campaign.name = campaign.name;
    show(form, "success", msg(key("saved")));
  },

  async active(form) {
    const field = form.querySelector("input[name=active]");
    const { campaign } = await post(`/campaigns/${config.wiki}/${config.campaign.id}/settings/`, encoded(form));
    const state = form.querySelector("#campaign-state");
    state.dataset.active = String(campaign.active);
    state.textContent = msg(key(campaign.active ? "state-open" : "state-closed"));
    field.value = campaign.active ? "false" : "true";
    form.querySelector("button[type=submit]").textContent = msg(key(campaign.active ? "close" : "open"));
    show(form, "success", msg(key(campaign.active ? "opened" : "closed")));
  },

  async organizers(form) {
    const { organizers } = await post(`/campaigns/${config.wiki}/${config.campaign.id}/organizers/`, encoded(form));
    const list = document.getElementById("organizer-list");
    list.replaceChildren(
      ...organizers.map((id) => {
        const item = document.createElement("li");
        item.textContent = String(id);
        return item;
      }),
    );
    form.querySelector("input[name=user_id]").value = "";
    show(form, "success", msg(key("organizer-added")));
  },

  async tasks(form) {
    const file = form.querySelector("input[type=file]").files[0];
    const text = form.querySelector("textarea[name=tasks]");
    const body = file || text.value;
    if (!file && !text.value.trim()) {
      show(form, "error", msg(key("tasks-empty")));
      return;
    }
    const { inserted } = await post(form.dataset.endpoint, body, { "Content-Type": "application/x-ndjson" });
    const count = document.getElementById("fact-tasks");
    if (count) count.textContent = String(Number(count.textContent) + inserted);
    if (!file) text.value = "";
    form.querySelector("input[type=file]").value = "";
    show(form, "success", msg(key("tasks-added"), inserted));
  },
};

for (const form of document.querySelectorAll("form[data-api]")) {
  const handler = handlers[form.dataset.api];
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    form.setAttribute("aria-busy", "true");
    try {
      await handler(form);
    } catch (error) {
      show(form, "error", error.message);
    } finally {
      button.disabled = false;
      form.removeAttribute("aria-busy");
    }
  });
}
