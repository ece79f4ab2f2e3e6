// UI messages in MediaWiki's format: `$1` parameters and `{{PLURAL:$1|one|other}}`, whose forms
// follow the language's plural rules (the browser's Intl.PluralRules, CLDR like MediaWiki's).

const PARAMETER = /\$(\d+)/g;
const PLURAL = /\{\{PLURAL:\s*([^|}]*)\|([^{}]*)\}\}/gi;
const EXPLICIT = /^\s*(\d+)\s*=([\s\S]*)$/;
const CATEGORIES = ["zero", "one", "two", "few", "many", "other"];

function pluralRules(lang) {
  try {
    return new Intl.PluralRules(lang);
  } catch {
    return new Intl.PluralRules("en");
  }
}

/** `msg(key, ...params)` over `messages` (already resolved for `lang` by the server). */
export function messageFormatter(messages, lang) {
  const rules = pluralRules(lang === "qqx" ? "en" : lang);
  const order = CATEGORIES.filter((c) => c === "other" || rules.resolvedOptions().pluralCategories.includes(c));
  const plural = (count, forms) => {
    const number = Number(String(count).replace(/,/g, ""));
    const plain = [];
    for (const form of forms) {
      const explicit = EXPLICIT.exec(form);
      if (explicit) {
        if (Number(explicit[1]) === number) return explicit[2];
      } else plain.push(form);
    }
    if (!plain.length) return "";
    const index = order.indexOf(rules.select(Number.isFinite(number) ? number : 0));
    return plain[Math.min(index < 0 ? plain.length - 1 : index, plain.length - 1)];
  };
  return (key, ...params) => {
    if (lang === "qqx") return params.length ? `(${key}: ${params.join(", ")})` : `(${key})`;
    const text = messages[key];
    if (text === undefined) return `⧼${key}⧽`;
    const substituted = text.replace(PARAMETER, (all, n) => (params[n - 1] === undefined ? all : String(params[n - 1])));
    return substituted.replace(PLURAL, (all, count, forms) => plural(count.trim(), forms.split("|")));
  };
}
