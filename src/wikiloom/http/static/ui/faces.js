// Face projects: the new-project form (faces/projects.html), a project's "Send edits to
// Commons", match gallery, settings and encodings (faces/project.html), and the keyboard-first
// classify page (faces/classify.html). Everything goes through the JSON API (http/faces.py).

import { callServer } from "./api.js";
import { el } from "./dom.js";
import { messageFormatter } from "./messages.js";

const config = JSON.parse(document.getElementById("wl-faces-config").textContent);
const msg = messageFormatter(config.messages, config.lang);
const key = (name) => `wikiloom-faces-${name}`;
const api = (path) => `/faces/${path}`;

/** Call the faces API with a JSON body; the answer, or throws the server's message. */
function send(method, url, body = undefined) {
  const init = { method, credentials: "same-origin", headers: { "Content-Type": "application/json" } };
  if (body !== undefined) init.body = JSON.stringify(body);
  return callServer(url, init, (reason) => msg(key("unreachable"), reason));
}

/** Show a Codex message (`error`, `success`) in a form's result area. */
function show(form, kind, text) {
  const box = el(
    "div",
    { class: `cdx-message cdx-message--${kind}`, role: kind === "error" ? "alert" : "status", "data-kind": kind },
    el("span", { class: "cdx-message__icon" }),
    el("div", { class: "cdx-message__content" }, text),
  );
  form.querySelector("[data-result]").replaceChildren(box);
}

/** Run `handler` on submit, the button disabled meanwhile, errors shown in the form. */
function onSubmit(id, handler) {
  const form = document.getElementById(id);
  if (!form) return;
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

function projectsPage() {
  onSubmit("faces-new", async (form) => {
    const data = new FormData(form);
    const depth = Number(data.get("depth") || 0);
    const categories = String(data.get("categories") || "")
      .split("\n")
      .map((line) => line.trim())
      .filter(Boolean)
      .map((name) => ({ name, depth }));
    const body = {
      qid: String(data.get("qid") || "").trim(),
      name: String(data.get("name") || "").trim(),
      categories,
      target_precision: Number(data.get("target_precision") || 0.99),
    };
    const label = String(data.get("label") || "").trim();
    if (label) body.label = label;
    const project = await send("POST", api("projects/"), body);
    show(form, "success", msg(key("created"), project.name));
    window.location.assign(`/ui/faces/${project.id}/`);
  });
}

function projectPage() {
  const id = config.projectId;
  onSubmit("faces-send", async (form) => {
    const sent = await send("POST", api(`projects/${id}/edits`), {});
    show(form, "success", msg(key("sent"), sent.additions, sent.removals));
  });
  onSubmit("faces-settings", async (form) => {
    const body = {};
    for (const input of form.querySelectorAll("input, select")) {
      const value = input.value.trim();
      if (input.dataset.kind === "number") body[input.name] = value === "" ? null : Number(value);
      else body[input.name] = value === "" && input.name === "label" ? null : value;
    }
    if (body.max_images === null) delete body.max_images;
    await send("PATCH", api(`projects/${id}`), body);
    show(form, "success", msg(key("settings-saved")));
  });
  onSubmit("faces-encodings", async (form) => {
    if (!form.querySelector("#faces-encodings-confirm").checked) {
      show(form, "error", msg(key("encodings-unconfirmed")));
      form.querySelector("#faces-encodings-confirm").focus();
      return;
    }
    const answer = await send("DELETE", api(`projects/${id}/encodings`));
    show(form, "success", msg(key("encodings-deleted"), answer.deleted));
  });
  const status = document.getElementById("faces-matches-status");
  for (const item of document.querySelectorAll(".wl-faces-match")) {
    item.addEventListener("click", async (event) => {
      const button = event.target.closest("button[data-answer]");
      if (!button || item.dataset.answered) return;
      const buttons = item.querySelectorAll("button");
      buttons.forEach((b) => (b.disabled = true));
      try {
        await send("POST", api(`faces/${item.dataset.face}/answer`), { answer: button.dataset.answer });
        item.dataset.answered = button.dataset.answer;
        status.textContent = msg(key(button.dataset.answer === "yes" ? "approved" : "rejected"));
      } catch (error) {
        buttons.forEach((b) => (b.disabled = false));
        status.textContent = error.message;
      }
    });
  }
}

function classifyPage() {
  const id = config.projectId;
  const stage = document.getElementById("faces-stage");
  const image = document.getElementById("faces-image");
  const overlay = document.getElementById("faces-overlay");
  const status = document.getElementById("faces-status");
  const title = document.getElementById("faces-title");
  const drawButton = document.getElementById("faces-draw");
  const drawHelp = document.getElementById("faces-draw-help");
  const noButton = document.getElementById("faces-no");
  let current = null; // {image, faces}
  let busy = false;
  let draft = null; // {top, left, bottom, right} in display pixels
  let dragFrom = null;

  const say = (text) => {
    status.textContent = text;
  };
  const scale = () => ({ x: image.clientWidth / current.image.width, y: image.clientHeight / current.image.height });

  function layout() {
    if (!current || !current.image || !image.complete || !image.clientWidth) return;
    const { x, y } = scale();
    const boxes = current.faces.map((face, index) => {
      const number = index + 1;
      const button = el(
        "button",
        {
          type: "button",
          class: "wl-faces-face",
          "data-face": face.id,
          "data-number": number,
          "data-answer": face.answer,
          "aria-label": msg(key("face-label"), number),
          style: `left: ${face.box.left * x}px; top: ${face.box.top * y}px; width: ${(face.box.right - face.box.left) * x}px; height: ${(face.box.bottom - face.box.top) * y}px;`,
        },
        el("span", { class: "wl-faces-face-number", "aria-hidden": "true" }, String(number)),
      );
      button.addEventListener("click", () => (current.faces.length > 1 ? pick(number) : answerFace("yes")));
      return button;
    });
    if (draft) boxes.push(el("div", { class: "wl-faces-draft", id: "faces-draft", style: `left: ${draft.left}px; top: ${draft.top}px; width: ${draft.right - draft.left}px; height: ${draft.bottom - draft.top}px;` }));
    overlay.replaceChildren(...boxes);
  }

  function render(found) {
    current = found.image ? found : null;
    stopDrawing();
    const done = !current;
    document.getElementById("faces-done").hidden = !done;
    image.hidden = done;
    for (const b of document.querySelectorAll(".wl-faces-buttons button")) b.disabled = done && b.id !== "faces-undo";
    if (done) {
      overlay.replaceChildren();
      title.textContent = "";
      stage.dataset.state = "done";
      delete stage.dataset.image;
      return;
    }
    const many = current.faces.length > 1;
    noButton.querySelector("[data-one]").hidden = many;
    noButton.querySelector("[data-many]").hidden = !many;
    title.textContent = `${current.image.title} · ${msg(key("face-count"), current.faces.length)}`;
    const ready = () => {
      layout();
      stage.dataset.state = "ready";
      stage.dataset.image = String(current.image.id);
    };
    image.alt = current.image.title;
    if (image.getAttribute("src") === current.image.thumb_url && image.complete) ready();
    else {
      stage.dataset.state = "loading";
      image.onload = ready;
      image.onerror = () => {
        say(msg(key("image-failed")));
        ready();
      };
      image.src = current.image.thumb_url || "";
    }
  }

  async function act(work) {
    if (busy) return;
    busy = true;
    stage.setAttribute("aria-busy", "true");
    try {
      await work();
    } catch (error) {
      say(error.message);
    } finally {
      busy = false;
      stage.removeAttribute("aria-busy");
    }
  }

  const next = async () => render(await send("GET", api(`projects/${id}/next`)));
  const answerFace = (answer, face = undefined) =>
    act(async () => {
      if (!current) return;
      const target = face || current.faces[0];
      await send("POST", api(`faces/${target.id}/answer`), { answer });
      say(msg(key(`answered-${answer}`), 1));
      await next();
    });
  const answerImage = (pickId) =>
    act(async () => {
      await send("POST", api(`images/${current.image.id}/answer`), { pick: pickId });
      say(pickId === null ? msg(key("answered-none")) : msg(key("answered-pick"), current.faces.findIndex((f) => f.id === pickId) + 1));
      await next();
    });
  const yes = () => {
    if (!current) return;
    if (current.faces.length === 1) answerFace("yes");
    else say(msg(key("pick-number"), current.faces.length));
  };
  const no = () => {
    if (!current) return;
    if (current.faces.length === 1) answerFace("no");
    else answerImage(null);
  };
  const skip = () =>
    act(async () => {
      if (!current) return;
      for (const face of current.faces.filter((f) => !f.answer)) {
        await send("POST", api(`faces/${face.id}/answer`), { answer: "skip" });
      }
      say(msg(key("answered-skip")));
      await next();
    });
  const pick = (number) => {
    if (!current) return;
    if (number > current.faces.length) say(msg(key("no-such-face"), number));
    else if (current.faces.length === 1) answerFace("yes");
    else answerImage(current.faces[number - 1].id);
  };
  const undo = () =>
    act(async () => {
      const undone = await send("POST", api(`projects/${id}/undo`), {});
      if (!undone.answered) {
        say(msg(key("nothing-to-undo")));
        return;
      }
      render(undone);
      say(msg(key("undone")));
    });

  function startDrawing() {
    if (!current) return;
    stage.dataset.drawing = "true";
    drawButton.setAttribute("aria-pressed", "true");
    drawHelp.hidden = false;
    const w = image.clientWidth;
    const h = image.clientHeight;
    const side = Math.round(Math.min(w, h) / 4);
    draft = { left: Math.round(w / 2 - side / 2), top: Math.round(h / 2 - side / 2) };
    draft.right = draft.left + side;
    draft.bottom = draft.top + side;
    layout();
    say(msg(key("drawing")));
  }
  function stopDrawing() {
    delete stage.dataset.drawing;
    drawButton.setAttribute("aria-pressed", "false");
    drawHelp.hidden = true;
    draft = null;
    dragFrom = null;
    layout();
  }
  const drawing = () => Boolean(stage.dataset.drawing);
  const clamp = (value, high) => Math.max(0, Math.min(high, Math.round(value)));
  const submitDraft = () =>
    act(async () => {
      if (!draft || draft.right - draft.left < 4 || draft.bottom - draft.top < 4) {
        say(msg(key("draw-too-small")));
        return;
      }
      const body = {
        box: { top: draft.top, right: draft.right, bottom: draft.bottom, left: draft.left },
        display: { width: image.clientWidth, height: image.clientHeight },
      };
      const { face } = await send("POST", api(`images/${current.image.id}/faces`), body);
      current.faces.push(face);
      stopDrawing();
      render(current);
      say(msg(key("drawn"), current.faces.length));
    });
  function moveDraft(event) {
    const step = event.altKey ? 1 : 5;
    const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    const [dx, dy] = moves[event.key];
    const w = image.clientWidth;
    const h = image.clientHeight;
    if (event.shiftKey) {
      draft.right = clamp(Math.max(draft.left + 4, draft.right + dx), w);
      draft.bottom = clamp(Math.max(draft.top + 4, draft.bottom + dy), h);
    } else {
      const width = draft.right - draft.left;
      const height = draft.bottom - draft.top;
      draft.left = clamp(draft.left + dx, w - width);
      draft.top = clamp(draft.top + dy, h - height);
      draft.right = draft.left + width;
      draft.bottom = draft.top + height;
    }
    layout();
  }
  const point = (event) => {
    const rect = image.getBoundingClientRect();
    return { x: clamp(event.clientX - rect.left, image.clientWidth), y: clamp(event.clientY - rect.top, image.clientHeight) };
  };
  stage.addEventListener("pointerdown", (event) => {
    if (!drawing()) return;
    event.preventDefault();
    dragFrom = point(event);
    draft = { left: dragFrom.x, top: dragFrom.y, right: dragFrom.x, bottom: dragFrom.y };
    stage.setPointerCapture(event.pointerId);
    layout();
  });
  stage.addEventListener("pointermove", (event) => {
    if (!dragFrom) return;
    const to = point(event);
    draft = { left: Math.min(dragFrom.x, to.x), top: Math.min(dragFrom.y, to.y), right: Math.max(dragFrom.x, to.x), bottom: Math.max(dragFrom.y, to.y) };
    layout();
  });
  stage.addEventListener("pointerup", () => {
    if (!dragFrom) return;
    dragFrom = null;
    submitDraft();
  });

  document.getElementById("faces-yes").addEventListener("click", yes);
  noButton.addEventListener("click", no);
  document.getElementById("faces-skip").addEventListener("click", skip);
  document.getElementById("faces-undo").addEventListener("click", undo);
  drawButton.addEventListener("click", () => (drawing() ? stopDrawing() : startDrawing()));
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.target.closest("input, textarea, select")) return;
    if (drawing()) {
      if (event.key === "Escape") {
        stopDrawing();
        say(msg(key("draw-cancelled")));
      } else if (event.key === "Enter") submitDraft();
      else if (event.key.startsWith("Arrow")) moveDraft(event);
      else return;
      event.preventDefault();
      return;
    }
    if (event.altKey) return;
    const letter = event.key.toLowerCase();
    const actions = { y: yes, n: no, s: skip, z: undo, d: startDrawing };
    if (actions[letter]) actions[letter]();
    else if (/^[1-9]$/.test(event.key)) pick(Number(event.key));
    else return;
    event.preventDefault();
  });
  new ResizeObserver(layout).observe(image);
  act(next);
}

({ projects: projectsPage, project: projectPage, classify: classifyPage })[config.page]();
