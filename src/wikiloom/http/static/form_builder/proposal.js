// A form proposal's page: the proposed form rendered as labelers would see it.

import { fillLanguages, languagesOf, mountPreview } from "./preview.js";

const config = JSON.parse(document.getElementById("form-proposal-config").textContent);
const preview = document.getElementById("form-preview");
const valueView = document.getElementById("form-value");
const languages = document.getElementById("form-language");

if (config.form && preview && valueView && languages) {
  const show = () => {
    const lang = fillLanguages(languages, languagesOf(config.form.i18n), config.lang);
    mountPreview(preview, valueView, config.form, lang);
  };
  languages.addEventListener("change", show);
  show();
}
