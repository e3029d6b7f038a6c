// The console's words, one dictionary per language in lang/: Bahasa Indonesia (the office's, the default) and
// English. index.html marks its fixed text with data-i18n (textContent), data-i18n-placeholder and
// data-i18n-label (aria-label); the other modules ask t() for everything they write. Data (NIKs, serials, ids,
// names) is never looked up.
import en from "./lang/en.js";
import id from "./lang/id.js";

const LANGUAGES = { id, en };
const LANGUAGE_KEY = "ektp-lang";
export const i18n = {
  lang: LANGUAGES[localStorage.getItem(LANGUAGE_KEY)] ? localStorage.getItem(LANGUAGE_KEY) : "id",

  // t("requests.total", { count: 3 }) → "3 permohonan"; an unknown key shows itself (a gap, not a blank).
  // "group.value" (status.queued) names a value of a group (see named).
  t(key, vars = {}) {
    const text = LANGUAGES[i18n.lang][key] ?? LANGUAGES.id[key];
    if (typeof text !== "string") {
      const dot = key.indexOf(".");
      return dot > 0 ? i18n.named(key.slice(0, dot), key.slice(dot + 1)) : key;
    }
    return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
  },

  // A value's name for people from one of the groups (status, priority, field…); the value itself when unnamed.
  named(group, value) {
    const names = LANGUAGES[i18n.lang][group] || {};
    if (value in names) return names[value];
    return group === "field" ? String(value).replace(/_/g, " ") : String(value ?? "");
  },

  set(lang) {
    if (!LANGUAGES[lang]) return;
    i18n.lang = lang;
    localStorage.setItem(LANGUAGE_KEY, lang);
    i18n.apply();
  },

  // The page's fixed text, <html lang> and the title, in the chosen language.
  apply() {
    document.documentElement.lang = i18n.lang;
    document.title = i18n.t("title");
    for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = i18n.t(node.dataset.i18n);
    for (const node of document.querySelectorAll("[data-i18n-placeholder]")) {
      node.setAttribute("placeholder", i18n.t(node.dataset.i18nPlaceholder));
    }
    for (const node of document.querySelectorAll("[data-i18n-label]")) {
      node.setAttribute("aria-label", i18n.t(node.dataset.i18nLabel));
    }
    for (const node of document.querySelectorAll("[data-i18n-alt]")) node.setAttribute("alt", i18n.t(node.dataset.i18nAlt));
    for (const node of document.querySelectorAll("[data-i18n-label-attr]")) node.setAttribute("label", i18n.t(node.dataset.i18nLabelAttr));
    for (const button of document.querySelectorAll("#language button")) {
      button.setAttribute("aria-pressed", String(button.dataset.lang === i18n.lang));
    }
  },
};

export const t = i18n.t;
