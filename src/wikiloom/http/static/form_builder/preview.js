// The form builder's preview: a form config rendered by the shared labeling form renderer, in
// a chosen language, with the label JSON it yields shown live beneath it.

import { formResolver, renderForm } from "/static/ui/forms.js";

/** The languages of a form's messages, English first. */
export function languagesOf(i18n) {
  const codes = Object.keys(i18n || {}).sort();
  return [...codes.filter((code) => code === "en"), ...codes.filter((code) => code !== "en")];
}

/** Fill `select` with `codes`, keeping the current choice, else `preferred`, else the first. */
export function fillLanguages(select, codes, preferred) {
  const current = select.value;
  const shown = codes.length ? codes : ["en"];
  if (shown.join("|") !== [...select.options].map((option) => option.value).join("|")) {
    select.replaceChildren(...shown.map((code) => new Option(code, code)));
  }
  select.value = shown.includes(current) ? current : shown.includes(preferred) ? preferred : shown[0];
  return select.value;
}

/** The language chain of a preview in `lang`: the language, then English. */
export function chainOf(lang) {
  return lang === "en" ? ["en"] : [lang, "en"];
}

/** The writing direction of `lang` ("ltr" or "rtl"), or "" where the browser cannot tell. */
export function directionOf(lang) {
  try {
    const locale = new Intl.Locale(lang);
    const info = typeof locale.getTextInfo === "function" ? locale.getTextInfo() : locale.textInfo;
    return info && info.direction ? info.direction : "";
  } catch {
    return "";
  }
}

/**
 * Render `form` (`{name, title, fields, i18n}`) into `container` in `lang` and keep `valueView`
 * showing its label JSON; `previous` (a label) is restored where its fields still exist.
 * Returns the rendered form.
 */
export function mountPreview(container, valueView, form, lang, previous = null) {
  const rendered = renderForm(form, formResolver(form.i18n || {}, chainOf(lang)));
  container.replaceChildren(rendered.element);
  container.lang = lang;
  container.dir = directionOf(lang);
  if (previous && typeof rendered.set === "function") {
    try {
      rendered.set(previous);
    } catch {
      rendered.reset();
    }
  }
  const show = () => {
    valueView.textContent = JSON.stringify(rendered.value(), null, 2);
  };
  for (const type of ["input", "change", "click", "keyup"]) {
    rendered.element.addEventListener(type, () => queueMicrotask(show));
  }
  show();
  return rendered;
}
