// Views: how a task is shown. Each fetches what it needs from the wiki's API in the browser and
// returns an element. The editor's name and the edit's time are never shown (to avoid bias).
//
// Task data is only ever text or numbers here: it goes into text nodes, attributes or a
// sandboxed frame that runs no script. HTML that the wiki renders (diffs, pages, summaries) is
// sanitized before it is inserted, and its relative links point back to the wiki.

import DOMPurify from "../vendor/purify.es.mjs";
import { el } from "./dom.js";

/** Sanitized wiki HTML whose relative links and images point at the wiki, opening in a new tab. */
function wikiHtml(html, origin, tag = "div", className = "wl-wiki-html") {
  const node = el(tag, { class: className });
  node.innerHTML = DOMPurify.sanitize(html, { USE_PROFILES: { html: true } });
  for (const link of node.querySelectorAll("a[href]")) {
    const href = link.getAttribute("href");
    if (href.startsWith("/") && !href.startsWith("//")) link.setAttribute("href", origin + href);
    link.target = "_blank";
    link.rel = "noopener noreferrer";
  }
  for (const image of node.querySelectorAll("img[src]")) {
    const src = image.getAttribute("src");
    if (src.startsWith("/") && !src.startsWith("//")) image.setAttribute("src", origin + src);
  }
  return node;
}

function notice(text, type = "warning") {
  return el("div", { class: `cdx-message cdx-message--block cdx-message--${type}`, role: type === "error" ? "alert" : "status" },
    el("span", { class: "cdx-message__icon" }), el("div", { class: "cdx-message__content" }, text));
}

/** A sandboxed frame: no scripts, no same-origin access, no forms, no popups. */
function inertFrame(attributes) {
  return el("iframe", { sandbox: "", referrerpolicy: "no-referrer", class: "wl-frame", ...attributes });
}

function isDeleted(revision) {
  return !revision || revision.texthidden || revision.textmissing || revision.suppressed;
}

/** MediaWiki's diff table for a creation: every line added, as text. */
function creationTable(text, msg) {
  const table = el("table", { class: "diff diff-type-table" });
  table.append(el("caption", { class: "wl-visually-hidden" }, msg("wikiloom-view-creation")));
  const columns = el("colgroup");
  for (const name of ["diff-marker", "diff-content", "diff-marker", "diff-content"]) columns.append(el("col", { class: name }));
  table.append(columns);
  const body = el("tbody");
  for (const line of text.split("\n")) {
    body.append(el("tr", {}, el("td", { colspan: "2", class: "diff-empty" }), el("td", { class: "diff-marker", "data-marker": "+" }), el("td", { class: "diff-addedline" }, el("div", {}, line))));
  }
  table.append(body);
  return table;
}

function diffTable(html, origin, msg) {
  if (!html.trim()) return notice(msg("wikiloom-view-no-difference"), "notice");
  const holder = wikiHtml(`<table class="diff diff-type-table"><colgroup><col class="diff-marker"><col class="diff-content"><col class="diff-marker"><col class="diff-content"></colgroup><tbody>${html}</tbody></table>`, origin, "div", "wl-diff");
  return holder;
}

class Context {
  constructor(wiki, msg) {
    this.wiki = wiki;
    this.msg = msg;
    this.origin = new URL(wiki.url, location.href).origin;
  }

  /** One revision's ids, page title and parsed summary (no user, no timestamp). */
  async revision(revId) {
    const body = await this.wiki.get({ action: "query", prop: "revisions", revids: String(revId), rvprop: "ids|parsedcomment|flags" });
    if (body.query?.badrevids) return null;
    const page = body.query?.pages?.[0];
    const revision = page?.revisions?.[0];
    return revision ? { ...revision, title: page.title } : null;
  }

  link(params, text) {
    const url = `${this.wiki.base}index.php?${new URLSearchParams(params)}`;
    return el("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, text);
  }

  async diff(revId) {
    const msg = this.msg;
    const box = el("section", { class: "wl-diff-view", "data-rev-id": String(revId) });
    let revision;
    try {
      revision = await this.revision(revId);
    } catch (error) {
      box.append(notice(msg("wikiloom-view-wiki-error", error.message), "error"));
      return box;
    }
    if (!revision) {
      box.append(notice(msg("wikiloom-view-deleted", revId), "warning"));
      return box;
    }
    box.append(
      el("h2", { class: "wl-view-title" }, this.link({ title: revision.title }, revision.title)),
      el("p", { class: "wl-view-links" }, this.link({ diff: String(revId), oldid: "prev" }, msg("wikiloom-view-diff-link", revId))),
    );
    if (revision.commenthidden) box.append(el("p", { class: "wl-summary wl-muted" }, msg("wikiloom-view-summary-deleted")));
    else if (revision.parsedcomment) box.append(wikiHtml(revision.parsedcomment, this.origin, "p", "wl-summary"));
    if (isDeleted(revision)) {
      box.append(notice(msg("wikiloom-view-deleted", revId), "warning"));
      return box;
    }
    try {
      if (revision.parentid) {
        const compared = await this.wiki.get({ action: "compare", fromrev: String(revision.parentid), torev: String(revId), prop: "diff" });
        box.append(diffTable(compared.compare?.body ?? "", this.origin, msg));
      } else {
        const body = await this.wiki.get({ action: "query", prop: "revisions", revids: String(revId), rvprop: "content", rvslots: "main" });
        const content = body.query?.pages?.[0]?.revisions?.[0]?.slots?.main?.content ?? "";
        box.append(el("p", { class: "wl-muted" }, msg("wikiloom-view-creation")), creationTable(content, msg));
      }
    } catch (error) {
      const deleted = ["nosuchrevid", "missingcontent", "permissiondenied"].includes(error.code);
      box.append(deleted ? notice(msg("wikiloom-view-deleted", revId), "warning") : notice(msg("wikiloom-view-wiki-error", error.message), "error"));
    }
    return box;
  }
}

const VIEWS = {
  View: async (task) => el("pre", { class: "wl-json" }, JSON.stringify(task.data, null, 2)),

  DiffToPrevious: (task, context) => context.diff(task.data.rev_id),

  MultiDiffToPrevious: async (task, context) => {
    const ids = task.data.rev_ids || [];
    const box = el("div", { class: "wl-multi-diff" });
    if (task.data.note) box.append(wikiHtml(String(task.data.note), context.origin, "div", "wl-note"));
    box.append(el("p", { class: "wl-session" }, context.msg("wikiloom-view-session", ids.length)));
    for (const diff of await Promise.all(ids.map((id) => context.diff(id)))) box.append(diff);
    return box;
  },

  PageAsOfRevision: async (task, context) => {
    const box = el("article", { class: "wl-page" });
    try {
      const body = await context.wiki.get({ action: "parse", oldid: String(task.data.rev_id), prop: "text|displaytitle", disableeditsection: "1" });
      box.append(wikiHtml(body.parse.displaytitle, context.origin, "h1", "wl-page-title"), wikiHtml(body.parse.text, context.origin));
    } catch (error) {
      const deleted = ["nosuchrevid", "permissiondenied", "missingtitle"].includes(error.code);
      box.append(deleted ? notice(context.msg("wikiloom-view-deleted", task.data.rev_id)) : notice(context.msg("wikiloom-view-wiki-error", error.message), "error"));
    }
    return box;
  },

  PrintablePageAsOfRevision: async (task, context) =>
    inertFrame({ src: `${context.wiki.base}index.php?${new URLSearchParams({ oldid: String(task.data.rev_id), printable: "yes" })}`, title: context.msg("wikiloom-view-page-frame", task.data.rev_id) }),

  ParsedWikitext: async (task, context) => {
    try {
      const body = await context.wiki.get({ action: "parse", text: String(task.data.wikitext).slice(0, 4000), contentmodel: "wikitext", prop: "text", disablelimitreport: "1" });
      return wikiHtml(body.parse.text, context.origin);
    } catch (error) {
      return notice(context.msg("wikiloom-view-wiki-error", error.message), "error");
    }
  },

  RenderedHTML: async (task, context) => {
    const frame = inertFrame({ title: context.msg("wikiloom-view-html-frame") });
    frame.srcdoc = String(task.data.html);
    return frame;
  },

  UnsourcedStatement: async (task, context) => {
    const { lang, title, revision } = task.data;
    const url = `https://${encodeURIComponent(lang)}.wikipedia.org/api/rest_v1/page/html/${encodeURIComponent(title)}/${Number(revision)}`;
    return el("div", {}, el("p", {}, context.msg("wikiloom-view-statement", title, task.data.paragraph_index ?? "?", task.data.sentence_index ?? "?")), inertFrame({ src: url, title }));
  },

  FaceOnImage: async (task, context) => {
    const [top, right, bottom, left] = task.data.box;
    let src = String(task.data.image);
    let width = task.data.width;
    let height = task.data.height;
    if (!/^https?:\/\//.test(src)) {
      const title = src.startsWith("File:") ? src : `File:${src}`;
      try {
        const body = await context.wiki.get({ action: "query", prop: "imageinfo", titles: title, iiprop: "url|size" });
        const info = body.query?.pages?.[0]?.imageinfo?.[0];
        if (!info) return notice(context.msg("wikiloom-view-image-missing", title));
        src = info.url;
        width = width || info.width;
        height = height || info.height;
      } catch (error) {
        return notice(context.msg("wikiloom-view-wiki-error", error.message), "error");
      }
    }
    const figure = el("figure", { class: "wl-face" });
    const frame = el("div", { class: "wl-face-frame" });
    const image = el("img", { src, alt: context.msg("wikiloom-view-face-alt"), referrerpolicy: "no-referrer" });
    const mark = el("div", { class: "wl-face-box", "aria-hidden": "true" });
    const place = () => {
      const w = width || image.naturalWidth;
      const h = height || image.naturalHeight;
      if (!w || !h) return;
      mark.style.insetInlineStart = "auto";
      mark.style.left = `${(100 * left) / w}%`;
      mark.style.top = `${(100 * top) / h}%`;
      mark.style.width = `${(100 * (right - left)) / w}%`;
      mark.style.height = `${(100 * (bottom - top)) / h}%`;
    };
    image.addEventListener("load", place);
    place();
    frame.append(image, mark);
    figure.append(frame, el("figcaption", { class: "wl-muted" }, String(task.data.image)));
    return figure;
  },
};

/** The view `name` (falling back to `View`): `render(task)` resolves to an element. */
export function makeView(name, wiki, msg) {
  const context = new Context(wiki, msg);
  const render = VIEWS[name] || VIEWS.View;
  return {
    known: name in VIEWS,
    async render(task) {
      try {
        return await render(task, context);
      } catch (error) {
        return notice(msg("wikiloom-view-wiki-error", error.message), "error");
      }
    },
  };
}
