// Pengguna (admins only): the office's staff accounts; add one, disable or enable it, set a new password.
import { act, api, el, i18n, kecamatanName, regions, register, sayKey, shown, state, t, table } from "./core.js";

// An admin's changes to a staff account: PATCH /v1/users/{username} (a new password also unlocks it).
function changeUser(username, body) {
  return act("request", `/v1/users/${encodeURIComponent(username)}`, body,
    { method: "PATCH", done: () => sayKey("msg.user_changed", { username }) });
}

function userActions(u) {
  const password = el("input", { type: "password", placeholder: t("user.new_password"), size: 14, minlength: 10, autocomplete: "new-password", name: "new-password" });
  return el("span", {},
    el("button", { class: "action", name: "toggle", onclick: () => changeUser(u.username, { disabled: !u.disabled }) }, t(u.disabled ? "action.enable" : "action.disable")),
    password,
    el("button", { class: "action", name: "set-password", onclick: () => changeUser(u.username, { password: password.value }) }, t("action.set_password")));
}

export async function addUser(event) {
  event.preventDefault();
  const form = event.target;
  const data = Object.fromEntries(new FormData(form));
  const body = { username: data.username.trim().toLowerCase(), full_name: data.full_name.trim(), role: data.role, password: data.password,
    kecamatan: data.role === "clerk" && data.kecamatan ? [data.kecamatan] : [] };
  await act("request", "/v1/users", body, { done: () => { form.reset(); sayKey("msg.user_added", { username: body.username }); } });
}

register("users", {
  async load() {
    await regions();
    return api("request", "/v1/users");
  },
  draw(users) {
    const select = document.querySelector("#user-form select[name=kecamatan]");
    const chosen = select.value;
    select.replaceChildren(el("option", { value: "" }, "–"),
      ...state.regions.kecamatan.map(k => el("option", { value: k.code }, `${k.name} (${k.code})`)));
    select.value = chosen;
    table("user-list", users, [
      [t("col.username"), u => u.username],
      [t("col.name"), u => u.full_name || "–"],
      [t("col.role"), u => i18n.named("role", u.role)],
      [t("col.kecamatan"), u => u.kecamatan.map(kecamatanName).join(", ") || "–"],
      [t("col.account"), u => el("span", { class: u.disabled || u.locked_until ? "bad" : "ok" },
        t(u.disabled ? "user.disabled" : u.locked_until ? "user.locked" : "user.active"))],
      [t("col.last_sign_in"), u => u.last_sign_in_at ? shown(u.last_sign_in_at) : "–"],
      ["", u => userActions(u)],
    ]);
  },
});
