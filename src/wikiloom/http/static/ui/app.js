// The labeling app: log in, choose a campaign, request a workset, label its tasks.
//
// Keyboard first: every option has a key (shown on it), Enter submits, S skips, Z goes back to
// the last answer, the arrow keys move between tasks. Views of the coming tasks are rendered
// ahead of time so that the next task shows at once; saves go on in the background and a
// failed one is reported inline with a way back to its task.

import { Server, WikiApi } from "./api.js";
import { formResolver, renderForm } from "./forms.js";
import { messageFormatter } from "./messages.js";
import { makeView } from "./views.js";
import { el } from "./dom.js";

const PREFETCH = 2;

function button(text, attributes = {}, key = null) {
  const node = el("button", { type: "button", class: "cdx-button", ...attributes });
  if (key) node.append(el("kbd", { class: "wl-key", "aria-hidden": "true" }, key));
  node.append(text);
  if (key) node.setAttribute("aria-keyshortcuts", key);
  return node;
}

function progressBar(done, total, label) {
  const percent = total ? Math.round((100 * done) / total) : 100;
  return el(
    "div",
    { class: "cdx-progress-bar cdx-progress-bar--inline wl-progress", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": String(total), "aria-valuenow": String(done), "aria-label": label },
    el("div", { class: "cdx-progress-bar__bar", style: `width: ${percent}%` }),
  );
}

const idle = () => new Promise((done) => (window.requestIdleCallback ? requestIdleCallback(() => done(), { timeout: 500 }) : setTimeout(done, 20)));

function isTyping(target) {
  return target instanceof HTMLElement && (target.isContentEditable || ["TEXTAREA", "SELECT"].includes(target.tagName) || (target.tagName === "INPUT" && !["checkbox", "radio", "button", "submit"].includes(target.type)));
}

export class LabelingApp {
  constructor(root, config) {
    this.root = root;
    this.config = config;
    this.msg = messageFormatter(config.messages, config.lang);
    this.server = new Server(config.server, (reason) => this.msg("wikiloom-app-unreachable", reason));
    this.wiki = new WikiApi(config.api);
    this.user = null;
    this.workspace = null;
    root.classList.add("wl-app");
    root.setAttribute("lang", config.lang);
    root.setAttribute("dir", config.dir);
    this.status = el("div", { class: "wl-status", role: "status", "aria-live": "polite" });
    this.errors = el("div", { class: "wl-errors", "aria-live": "assertive" });
    this.body = el("div", { class: "wl-body" });
    root.replaceChildren(this.errors, this.body, this.status);
    this.keys = (event) => this.onKey(event);
    document.addEventListener("keydown", this.keys);
    window.addEventListener("focus", () => this.checkSession());
  }

  /** Show a server error inline (with an optional action). */
  error(text, action = null) {
    const box = el("div", { class: "cdx-message cdx-message--block cdx-message--error", role: "alert" },
      el("span", { class: "cdx-message__icon" }), el("div", { class: "cdx-message__content" }, text));
    if (action) box.querySelector(".cdx-message__content").append(" ", action);
    const close = button(this.msg("wikiloom-app-dismiss"), { class: "cdx-button cdx-button--weight-quiet wl-dismiss" });
    close.addEventListener("click", () => box.remove());
    box.append(close);
    this.errors.append(box);
    return box;
  }

  say(text) {
    this.status.textContent = text;
  }

  async start() {
    try {
      this.user = (await this.server.whoami()).user;
    } catch {
      this.user = null;
    }
    if (!this.user) return this.showLogin();
    const wanted = new URLSearchParams(location.search).get("campaign");
    if (wanted) return this.openCampaign(Number(wanted));
    return this.showCampaigns();
  }

  async checkSession() {
    if (!this.user) return;
    try {
      await this.server.whoami();
    } catch (error) {
      if (error.status === 403) {
        this.user = null;
        this.error(this.msg("wikiloom-app-logged-out"));
        this.showLogin();
      }
    }
  }

  showLogin() {
    const next = `/ui/${this.config.wiki}/`;
    const login = el("a", { class: "cdx-button cdx-button--fake-button cdx-button--fake-button--enabled cdx-button--action-progressive cdx-button--weight-primary", href: `${this.config.server}/auth/initiate/?next=${encodeURIComponent(next)}`, id: "wl-login" }, this.msg("wikiloom-app-login"));
    const panel = el("section", { class: "wl-panel" }, el("h2", {}, this.msg("wikiloom-app-login-title")), el("p", {}, this.msg("wikiloom-app-login-why")), login);
    if (this.config.devLogin) {
      const id = el("input", { class: "cdx-text-input__input", id: "wl-dev-user", name: "user_id", inputmode: "numeric", value: "1", required: true });
      const name = el("input", { class: "cdx-text-input__input", id: "wl-dev-name", name: "username", value: "Developer" });
      const form = el("form", { class: "wl-dev-login", id: "wl-dev-login" },
        el("h3", {}, this.msg("wikiloom-app-dev-login")),
        el("label", { for: "wl-dev-user", class: "cdx-label__label" }, this.msg("wikiloom-app-dev-user-id")), el("div", { class: "cdx-text-input" }, id),
        el("label", { for: "wl-dev-name", class: "cdx-label__label" }, this.msg("wikiloom-app-dev-username")), el("div", { class: "cdx-text-input" }, name),
        el("button", { type: "submit", class: "cdx-button cdx-button--action-progressive" }, this.msg("wikiloom-app-dev-login-submit")));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        try {
          await this.server.devLogin(id.value, name.value);
          await this.start();
        } catch (error) {
          this.error(error.message);
        }
      });
      panel.append(form);
    }
    this.body.replaceChildren(panel);
    login.focus();
  }

  async showCampaigns() {
    this.workspace = null;
    let campaigns;
    try {
      campaigns = (await this.server.campaigns(this.config.wiki)).campaigns;
    } catch (error) {
      this.error(error.message);
      return;
    }
    const list = el("ul", { class: "wl-campaigns", id: "wl-campaigns" });
    for (const campaign of campaigns) {
      const needed = campaign.stats.tasks * campaign.labels_per_task;
      const open = el("a", { href: `?campaign=${campaign.id}`, class: "wl-campaign-link", "data-campaign": String(campaign.id) }, campaign.name);
      open.addEventListener("click", (event) => {
        event.preventDefault();
        this.openCampaign(campaign.id);
      });
      const info = campaign.info_url ? el("a", { href: campaign.info_url, target: "_blank", rel: "noopener noreferrer", class: "wl-muted" }, this.msg("wikiloom-app-campaign-info")) : null;
      list.append(el("li", { class: "cdx-card wl-campaign" },
        el("div", { class: "wl-campaign-head" }, open, info),
        progressBar(campaign.stats.labels, needed, this.msg("wikiloom-app-campaign-progress", campaign.stats.labels, needed)),
        el("span", { class: "wl-muted" }, this.msg("wikiloom-app-campaign-progress", campaign.stats.labels, needed))));
    }
    const heading = el("h2", {}, this.msg("wikiloom-app-campaigns", this.config.wiki));
    this.body.replaceChildren(heading, campaigns.length ? list : el("p", {}, this.msg("wikiloom-app-no-campaigns")));
    list.querySelector("a")?.focus();
  }

  async openCampaign(campaignId) {
    let worksets;
    try {
      worksets = (await this.server.worksets(this.user.id, campaignId)).worksets;
    } catch (error) {
      this.error(error.message);
      return this.showCampaigns();
    }
    const unfinished = worksets.filter((w) => w.stats.labeled < w.stats.tasks && w.expires * 1000 > Date.now());
    if (unfinished.length) return this.openWorkset(campaignId, unfinished[unfinished.length - 1].id);
    const request = button(this.msg("wikiloom-app-request-workset"), { class: "cdx-button cdx-button--action-progressive cdx-button--weight-primary", id: "wl-request" }, "↵");
    request.addEventListener("click", () => this.requestWorkset(campaignId));
    const back = button(this.msg("wikiloom-app-back"), { id: "wl-back" });
    back.addEventListener("click", () => this.showCampaigns());
    const done = worksets.length ? el("p", {}, this.msg("wikiloom-app-worksets-done", worksets.length)) : null;
    this.body.replaceChildren(el("section", { class: "wl-panel" }, done, request, back));
    this.enter = () => request.click();
    request.focus();
  }

  async requestWorkset(campaignId) {
    try {
      const { workset } = await this.server.assign(this.config.wiki, campaignId);
      await this.openWorkset(campaignId, workset.id);
    } catch (error) {
      this.error(error.message);
    }
  }

  async openWorkset(campaignId, worksetId) {
    let answer;
    try {
      answer = await this.server.workset(this.config.wiki, campaignId, worksetId);
    } catch (error) {
      this.error(error.message);
      return;
    }
    const campaign = answer.campaign;
    let form;
    try {
      form = (await this.server.form(campaign.form)).form;
    } catch (error) {
      this.error(error.message);
      return;
    }
    this.workspace = new Workspace(this, campaign, answer.workset, answer.tasks, form);
    this.workspace.show(this.workspace.firstOpen());
  }

  onKey(event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key.startsWith("Arrow") && event.target instanceof HTMLInputElement && event.target.type === "radio") return;
    if (isTyping(event.target)) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    if (this.workspace) {
      if (this.workspace.onKey(event)) event.preventDefault();
    } else if (event.key === "Enter" && this.enter && !(event.target instanceof HTMLAnchorElement)) {
      event.preventDefault();
      this.enter();
    }
  }
}

class Workspace {
  constructor(app, campaign, workset, tasks, form) {
    this.app = app;
    this.msg = app.msg;
    this.campaign = campaign;
    this.workset = workset;
    this.tasks = tasks.map((task) => ({ ...task, label: task.labels[0]?.data ?? null, state: task.labels.length ? "labeled" : "open" }));
    this.formConfig = form;
    this.resolve = formResolver(form.i18n || {}, app.config.chain);
    this.view = makeView(campaign.view, app.wiki, app.msg);
    this.rendered = new Map(); // task id -> Promise<Element>
    this.history = []; // {type: "label" | "skip", index}
    this.index = 0;
    this.pending = new Set();
    this.confirming = false;
    this.build();
    if (!this.view.known) app.error(app.msg("wikiloom-app-unknown-view", campaign.view));
  }

  build() {
    const msg = this.msg;
    this.progress = el("div", { class: "wl-progress-row" });
    this.position = el("span", { class: "wl-position", id: "wl-position" });
    this.viewBox = el("div", { class: "wl-view", id: "wl-view", tabindex: "-1" });
    this.formBox = el("div", { class: "wl-form-box", id: "wl-form" });
    this.notice = el("div", { class: "wl-notice", id: "wl-notice", "aria-live": "polite" });
    const submit = button(msg("wikiloom-app-submit"), { class: "cdx-button cdx-button--action-progressive cdx-button--weight-primary", id: "wl-submit" }, "↵");
    const skip = button(msg("wikiloom-app-skip"), { id: "wl-skip" }, "S");
    const undo = button(msg("wikiloom-app-undo"), { id: "wl-undo" }, "Z");
    const previous = button(msg("wikiloom-app-previous"), { id: "wl-previous", "aria-label": msg("wikiloom-app-previous") }, this.app.config.dir === "rtl" ? "→" : "←");
    const next = button(msg("wikiloom-app-next"), { id: "wl-next", "aria-label": msg("wikiloom-app-next") }, this.app.config.dir === "rtl" ? "←" : "→");
    submit.addEventListener("click", () => this.submit());
    skip.addEventListener("click", () => this.skip());
    undo.addEventListener("click", () => this.undo());
    previous.addEventListener("click", () => this.move(-1));
    next.addEventListener("click", () => this.move(1));
    this.actions = el("div", { class: "wl-actions" }, submit, skip, undo, previous, next);
    const side = el("aside", { class: "wl-side" }, this.formBox, this.notice, this.actions,
      el("p", { class: "wl-muted wl-help" }, msg("wikiloom-app-keys-help")));
    this.element = el("section", { class: "wl-workspace", "data-workset": String(this.workset.id) },
      el("div", { class: "wl-top" }, el("h2", {}, this.campaign.name), this.position), this.progress,
      el("div", { class: "wl-columns" }, this.viewBox, side));
    this.app.body.replaceChildren(this.element);
  }

  firstOpen() {
    const found = this.tasks.findIndex((task) => task.state === "open");
    return found < 0 ? 0 : found;
  }

  renderTask(index) {
    const task = this.tasks[index];
    if (!task) return null;
    if (!this.rendered.has(task.id)) this.rendered.set(task.id, this.view.render(task));
    return this.rendered.get(task.id);
  }

  /** Render the coming tasks' views ahead: the next few at once, then the rest one by one. */
  prefetch(from) {
    for (let i = from; i < Math.min(this.tasks.length, from + PREFETCH); i++) this.renderTask(i);
    if (this.prefetching) return;
    this.prefetching = (async () => {
      for (let i = 0; i < this.tasks.length; i++) {
        const index = (from + i) % this.tasks.length;
        await idle(); // between two labeler keypresses, never in their way
        if (this.tasks[index]) await this.renderTask(index);
      }
      this.prefetching = null;
    })();
  }

  drawProgress() {
    const done = this.tasks.filter((t) => t.state !== "open").length;
    const label = this.msg("wikiloom-app-progress", done, this.tasks.length);
    this.progress.replaceChildren(progressBar(done, this.tasks.length, label), el("span", { class: "wl-muted", id: "wl-progress-text" }, label));
  }

  async show(index) {
    if (!this.tasks.length) return this.complete();
    this.index = Math.max(0, Math.min(index, this.tasks.length - 1));
    const task = this.tasks[this.index];
    this.confirming = false;
    this.notice.replaceChildren();
    this.position.textContent = this.msg("wikiloom-app-position", this.index + 1, this.tasks.length);
    this.form = renderForm(this.formConfig, this.resolve, { unsure: this.msg("wikiloom-app-unsure") });
    if (task.label) this.form.set(task.label);
    const state = task.state === "labeled" ? el("p", { class: "wl-badge", id: "wl-state" }, this.msg("wikiloom-app-already-labeled")) : null;
    this.formBox.replaceChildren(...[state, this.form.element].filter(Boolean));
    this.drawProgress();
    const shown = this.renderTask(this.index);
    this.prefetch(this.index + 1);
    const element = await shown;
    if (this.tasks[this.index] !== task) return; // moved on meanwhile
    this.viewBox.replaceChildren(element);
    this.viewBox.dataset.task = String(task.id);
    this.app.root.dataset.shownTask = String(task.id);
    performance.mark(`wikiloom-shown-${task.id}`);
    this.app.root.dispatchEvent(new CustomEvent("wikiloom:shown", { detail: { task: task.id } }));
  }

  onKey(event) {
    const key = event.key;
    const dir = this.app.config.dir === "rtl" ? -1 : 1;
    if (this.done) {
      if (key === "Enter") this.done.click();
      else if (key.toLowerCase() === "z") this.undo();
      else return false;
      return true;
    }
    if (key === "Enter") return this.submit(), true;
    if (key === "ArrowRight") return this.move(dir), true;
    if (key === "ArrowLeft") return this.move(-dir), true;
    const lower = key.length === 1 ? key.toLowerCase() : key;
    if (lower === "s") return this.skip(), true;
    if (lower === "z") return this.undo(), true;
    const shortcut = this.form?.shortcuts.get(lower);
    if (shortcut) {
      shortcut.run();
      this.confirming = false;
      return true;
    }
    return false;
  }

  move(step) {
    const target = this.index + step;
    if (target < 0 || target >= this.tasks.length) return;
    performance.mark("wikiloom-move");
    this.show(target);
  }

  nextOpen(after) {
    for (let i = after + 1; i < this.tasks.length; i++) if (this.tasks[i].state === "open") return i;
    for (let i = 0; i <= after && i < this.tasks.length; i++) if (this.tasks[i].state === "open") return i;
    return -1;
  }

  advance() {
    const next = this.nextOpen(this.index);
    if (next < 0) {
      this.drawProgress();
      return this.finishWhenSaved();
    }
    return this.show(next);
  }

  submit() {
    const task = this.tasks[this.index];
    if (!task || this.done) return;
    const missing = this.form.questions.filter((q) => !q.answered());
    if (missing.length && !this.confirming) {
      this.confirming = true;
      this.notice.replaceChildren(el("div", { class: "cdx-message cdx-message--block cdx-message--warning", role: "alert", id: "wl-incomplete" },
        el("span", { class: "cdx-message__icon" }), el("div", { class: "cdx-message__content" }, this.msg("wikiloom-app-incomplete", missing.map((q) => q.label).join(", ")))));
      missing[0].focus();
      return;
    }
    const label = this.form.value();
    performance.mark("wikiloom-submit");
    const previous = { state: task.state, label: task.label };
    task.state = "labeled";
    task.label = label;
    this.history.push({ type: "label", task });
    const save = this.app.server
      .label(this.app.config.wiki, this.campaign.id, this.workset.id, task.id, label)
      .catch((error) => {
        task.state = previous.state;
        task.label = previous.label;
        const back = button(this.msg("wikiloom-app-go-to-task", this.tasks.indexOf(task) + 1));
        const box = this.app.error(this.msg("wikiloom-app-save-failed", this.tasks.indexOf(task) + 1, error.message), back);
        back.addEventListener("click", () => {
          box.remove();
          this.done = null;
          if (!this.element.isConnected) this.app.body.replaceChildren(this.element);
          this.show(this.tasks.indexOf(task));
        });
        this.drawProgress();
      })
      .finally(() => this.pending.delete(save));
    this.pending.add(save);
    this.advance();
  }

  async skip() {
    const task = this.tasks[this.index];
    if (!task || this.done) return;
    try {
      await this.app.server.skip(this.app.config.wiki, this.campaign.id, this.workset.id, task.id);
    } catch (error) {
      this.app.error(error.message);
      return;
    }
    const at = this.index;
    this.tasks.splice(at, 1);
    this.rendered.delete(task.id);
    this.history.push({ type: "skip", task });
    this.app.say(this.msg("wikiloom-app-skipped"));
    if (!this.tasks.length || this.nextOpen(at - 1) < 0) return this.finishWhenSaved();
    this.index = at - 1;
    this.advance();
  }

  undo() {
    const last = this.history.pop();
    if (!last) {
      this.app.say(this.msg("wikiloom-app-nothing-to-undo"));
      return;
    }
    if (last.type === "skip") {
      this.notice.replaceChildren(el("p", { class: "wl-muted", id: "wl-undo-skip" }, this.msg("wikiloom-app-undo-skip")));
      return;
    }
    const index = this.tasks.indexOf(last.task);
    if (index < 0) return;
    this.done = null;
    if (!this.element.isConnected) this.app.body.replaceChildren(this.element);
    this.show(index).then(() => {
      this.notice.replaceChildren(el("p", { class: "wl-muted", id: "wl-undone" }, this.msg("wikiloom-app-undone")));
    });
  }

  async finishWhenSaved() {
    await Promise.allSettled([...this.pending]);
    if (this.tasks.some((t) => t.state === "open")) return this.show(this.nextOpen(-1));
    this.complete();
  }

  complete() {
    const again = button(this.msg("wikiloom-app-request-another"), { class: "cdx-button cdx-button--action-progressive cdx-button--weight-primary", id: "wl-request-another" }, "↵");
    again.addEventListener("click", () => {
      this.app.workspace = null;
      this.app.requestWorkset(this.campaign.id);
    });
    const back = button(this.msg("wikiloom-app-back"), { id: "wl-back" });
    back.addEventListener("click", () => this.app.showCampaigns());
    this.done = again;
    this.app.body.replaceChildren(el("section", { class: "wl-panel wl-complete", id: "wl-complete" },
      el("h2", {}, this.msg("wikiloom-app-complete")), el("p", {}, this.msg("wikiloom-app-complete-count", this.tasks.length)),
      again, back, el("p", { class: "wl-muted" }, this.msg("wikiloom-app-undo-hint"))));
    again.focus();
  }
}

/** Start the app in `root` with `config` (the page's JSON, or /ui/<wiki>/app.json). */
export function mount(root, config) {
  const app = new LabelingApp(root, config);
  app.start();
  return app;
}
