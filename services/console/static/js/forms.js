// Forms built from a few lines each: every label and option carries its data-i18n key, so the language switch
// relabels a form already on the page (i18n.apply) without drawing it again and losing what was typed.
import { el, t } from "./core.js";

// A labelled control: <label><span data-i18n=key>…</span> control <small hint></small></label>.
export function field(key, control, { hint, wide } = {}) {
  return el("label", { class: wide ? "field wide" : "field" },
    el("span", { "data-i18n": key }, t(key)), control,
    hint ? el("small", { class: "hint", "data-i18n": hint }, t(hint)) : "");
}

export function input(name, attrs = {}) { return el("input", { name, id: attrs.id || undefined, ...attrs }); }

// <select> whose options are a group's values, named in the chosen language (status.queued → "Antre").
export function select(name, group, values, attrs = {}) {
  return el("select", { name, ...attrs },
    values.map(value => value === "" ? el("option", { value: "" }, "–")
      : el("option", { value, "data-i18n": `${group}.${value}` }, t(`${group}.${value}`))));
}

export function button(key, attrs = {}) {
  return el("button", { type: "button", class: "action", "data-i18n": key, ...attrs }, t(key));
}

export function submit(key) { return el("button", { type: "submit", class: "primary", "data-i18n": key }, t(key)); }

export function heading(level, key) { return el(level, { "data-i18n": key }, t(key)); }

// A form's values as an object of trimmed strings (checkboxes: true/false).
export function values(form) {
  const out = {};
  for (const control of form.elements) {
    if (!control.name || control.type === "submit" || control.type === "button" || control.type === "file") continue;
    out[control.name] = control.type === "checkbox" ? control.checked : control.value.trim();
  }
  return out;
}

// A file chosen in an <input type=file> (or a Blob the page made) as base64, without the data: prefix.
export function base64(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",")[1] || "");
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

// Today in the office's zone (WIB) as YYYY-MM-DD, for date fields' defaults.
export function officeToday() {
  return new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Jakarta" }).format(new Date());
}
