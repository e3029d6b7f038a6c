// The console's words, one dictionary per language: Bahasa Indonesia (the office's, the default) and English.
// index.html marks its fixed text with data-i18n (textContent), data-i18n-placeholder and data-i18n-label
// (aria-label); console.js asks t() for everything it writes. Data (NIKs, serials, ids, names) is never looked up.
"use strict";

const LANGUAGES = {
  id: {
    "title": "ektp-print — konsol kantor",
    "locale": "id-ID",
    "language": "Bahasa",
    "tab.overview": "Ringkasan",
    "tab.requests": "Permohonan",
    "tab.printers": "Printer",
    "tab.stock": "Blangko",
    "tab.coverage": "Cakupan",
    "tab.users": "Pengguna",
    "user.add_heading": "Tambah pengguna",
    "user.username": "Nama pengguna",
    "user.username_hint": "huruf kecil, angka, . _ -",
    "user.full_name": "Nama lengkap",
    "user.role": "Peran",
    "user.kecamatan": "Kecamatan (petugas)",
    "user.password": "Kata sandi awal",
    "user.add": "Tambah",
    "user.active": "aktif",
    "user.disabled": "nonaktif",
    "user.locked": "terkunci",
    "user.new_password": "kata sandi baru",
    "col.username": "Nama pengguna",
    "col.role": "Peran",
    "col.account": "Akun",
    "col.last_sign_in": "Terakhir masuk",
    "action.disable": "Nonaktifkan",
    "action.enable": "Aktifkan akun",
    "action.set_password": "Ganti kata sandi",
    "msg.user_added": "Pengguna {username} ditambahkan.",
    "msg.user_changed": "Pengguna {username} diperbarui.",
    "signin.heading": "Masuk",
    "signin.hint": "Masuk dengan nama pengguna dan kata sandi Anda.",
    "signin.username": "Nama pengguna",
    "signin.password": "Kata sandi",
    "signin.button": "Masuk",
    "signout.button": "Keluar",
    "overview.queue": "Antrean",
    "overview.stock": "Blangko",
    "overview.forecast": "Perkiraan",
    "overview.printers": "Printer",
    "filter.status": "Status",
    "filter.any": "semua",
    "filter.kecamatan": "Kecamatan",
    "filter.nik": "NIK",
    "filter.purpose": "Tujuan",
    "filter.show": "Tampilkan",
    "stock.heading": "Keseimbangan buku blangko: diterima = tersedia + dicadangkan + terpakai + rusak",
    "stock.sentence": "diterima {received} = tersedia {available} + dicadangkan {reserved} + terpakai {consumed} + rusak {spoiled}",
    "stock.holds": "seimbang: ",
    "stock.broken": "TIDAK SEIMBANG: ",
    "col.request": "Permohonan",
    "col.name": "Nama",
    "col.kecamatan": "Kecamatan",
    "col.priority": "Prioritas",
    "col.status": "Status",
    "col.serial": "Nomor seri kartu",
    "col.printer": "Printer",
    "col.state": "Keadaan",
    "col.reasons": "Keterangan",
    "col.ribbon_left": "Sisa pita",
    "col.cards_printed": "Kartu tercetak",
    "col.cards_per_hour": "Kartu/jam",
    "action.pause": "Jeda",
    "action.resume": "Lanjutkan",
    "action.commission": "Siapkan",
    "action.printed": "Tercetak",
    "action.not_printed": "Tidak tercetak",
    "action.activate": "Aktifkan",
    "serial.placeholder": "nomor seri kartu",
    "empty": "Tidak ada data",
    "requests.total": "{count} permohonan",
    "coverage.regency_total": "Total kabupaten",
    "yes": "ya",
    "no": "tidak",
    "msg.token_refused": "Token Anda ditolak atau sudah kedaluwarsa: silakan masuk lagi.",
    "msg.not_a_token": "Itu bukan token.",
    "msg.wrong_password": "Nama pengguna atau kata sandi salah.",
    "msg.locked": "Terlalu banyak kata sandi salah: akun dikunci, coba lagi dalam {minutes} menit.",
    "msg.sign_in_failed": "Tidak bisa masuk sekarang ({status}).",
    "msg.signed_out": "Anda sudah keluar.",
    "zone": "WIB",
    status: {
      received: "Diterima", queued: "Antre", printing: "Sedang dicetak", needs_review: "Perlu diperiksa",
      printed: "Tercetak", activated: "Diaktifkan", collected: "Sudah diambil", rejected: "Ditolak",
      cancelled: "Dibatalkan", replaced: "Diganti",
    },
    priority: { urgent: "Mendesak", regular: "Biasa" },
    role: { admin: "admin", operator: "operator", clerk: "petugas kecamatan", partner: "mitra" },
    printer_state: {
      registered: "Terdaftar", commissioning: "Sedang disiapkan", ready: "Siap", paused: "Dijeda",
      stopped: "Berhenti", removed: "Dilepas", idle: "Siap", processing: "Mencetak",
    },
    printer_reason: {
      "media-empty-error": "blangko habis", "media-low-warning": "blangko hampir habis",
      "media-jam-error": "kartu macet", "marker-supply-empty-error": "pita habis",
      "marker-supply-low-warning": "pita hampir habis", "cover-open-error": "penutup terbuka",
      "output-area-full-error": "baki keluaran penuh", "output-area-almost-full-warning": "baki keluaran hampir penuh",
      "other-warning": "peringatan lain", offline: "tidak terhubung", none: "normal",
    },
    field: {
      queued: "Antre", urgent_queued: "Antre mendesak", regular_queued: "Antre biasa", printing: "Sedang dicetak",
      needs_review: "Perlu diperiksa", overdue: "Lewat target", printed_today: "Tercetak hari ini",
      daily_capacity: "Kapasitas harian", received: "Diterima", available: "Tersedia", reserved: "Dicadangkan",
      consumed: "Terpakai", spoiled: "Rusak", written_off: "Dihapusbukukan", urgent_reserve: "Cadangan mendesak",
      available_to_regular: "Tersedia untuk biasa", rate_per_day: "Pemakaian per hari", days_of_cover: "Cukup untuk (hari)",
      projected_stock_out_on: "Perkiraan habis pada", backlog: "Tunggakan", shortfall: "Kekurangan",
      reorder_point: "Titik pesan ulang", suggested_quantity: "Saran jumlah pesanan", tranche_id: "ID kiriman",
      reference: "Referensi", unused: "Belum dipakai", holds: "Seimbang", code: "Kode", name: "Nama",
      obliged: "Wajib KTP", recorded: "Sudah rekam", collected_before: "Diambil sebelum sistem",
      printed: "Tercetak", activated: "Diaktifkan", collected: "Sudah diambil", updated_at: "Diperbarui",
    },
  },
  en: {
    "title": "ektp-print — office console",
    "locale": "en-GB",
    "language": "Language",
    "tab.overview": "Overview",
    "tab.requests": "Requests",
    "tab.printers": "Printers",
    "tab.stock": "Blank cards",
    "tab.coverage": "Coverage",
    "tab.users": "Staff",
    "user.add_heading": "Add a staff account",
    "user.username": "Username",
    "user.username_hint": "lower case, digits, . _ -",
    "user.full_name": "Full name",
    "user.role": "Role",
    "user.kecamatan": "Kecamatan (clerks)",
    "user.password": "First password",
    "user.add": "Add",
    "user.active": "active",
    "user.disabled": "disabled",
    "user.locked": "locked",
    "user.new_password": "new password",
    "col.username": "Username",
    "col.role": "Role",
    "col.account": "Account",
    "col.last_sign_in": "Last sign-in",
    "action.disable": "Disable",
    "action.enable": "Enable",
    "action.set_password": "Set password",
    "msg.user_added": "{username} added.",
    "msg.user_changed": "{username} updated.",
    "signin.heading": "Sign in",
    "signin.hint": "Sign in with your username and password.",
    "signin.username": "Username",
    "signin.password": "Password",
    "signin.button": "Sign in",
    "signout.button": "Sign out",
    "overview.queue": "Queue",
    "overview.stock": "Blank cards",
    "overview.forecast": "Forecast",
    "overview.printers": "Printers",
    "filter.status": "Status",
    "filter.any": "any",
    "filter.kecamatan": "Kecamatan",
    "filter.nik": "NIK",
    "filter.purpose": "Purpose",
    "filter.show": "Show",
    "stock.heading": "Ledger invariant: received = available + reserved + consumed + spoiled",
    "stock.sentence": "received {received} = available {available} + reserved {reserved} + consumed {consumed} + spoiled {spoiled}",
    "stock.holds": "holds: ",
    "stock.broken": "BROKEN: ",
    "col.request": "Request",
    "col.name": "Name",
    "col.kecamatan": "Kecamatan",
    "col.priority": "Priority",
    "col.status": "Status",
    "col.serial": "Card serial",
    "col.printer": "Printer",
    "col.state": "State",
    "col.reasons": "Reasons",
    "col.ribbon_left": "Ribbon left",
    "col.cards_printed": "Cards printed",
    "col.cards_per_hour": "Cards/hour",
    "action.pause": "Pause",
    "action.resume": "Resume",
    "action.commission": "Commission",
    "action.printed": "Printed",
    "action.not_printed": "Not printed",
    "action.activate": "Activate",
    "serial.placeholder": "serial on the card",
    "empty": "nothing here",
    "requests.total": "{count} request(s)",
    "coverage.regency_total": "Regency total",
    "yes": "yes",
    "no": "no",
    "msg.token_refused": "Your token was refused or has expired: sign in again.",
    "msg.not_a_token": "That is not a token.",
    "msg.wrong_password": "The username or password is wrong.",
    "msg.locked": "Too many wrong passwords: the account is locked, try again in {minutes} minutes.",
    "msg.sign_in_failed": "Cannot sign in now ({status}).",
    "msg.signed_out": "You have signed out.",
    "zone": "WIB",
    status: {
      received: "received", queued: "queued", printing: "printing", needs_review: "needs review",
      printed: "printed", activated: "activated", collected: "collected", rejected: "rejected",
      cancelled: "cancelled", replaced: "replaced",
    },
    priority: { urgent: "urgent", regular: "regular" },
    role: { admin: "admin", operator: "operator", clerk: "clerk", partner: "partner" },
    printer_state: {},
    printer_reason: {},
    field: {
      urgent_queued: "urgent queued", regular_queued: "regular queued", needs_review: "needs review",
      printed_today: "printed today", daily_capacity: "daily capacity", written_off: "written off",
      urgent_reserve: "urgent reserve", available_to_regular: "available to regular", rate_per_day: "rate per day",
      days_of_cover: "days of cover", projected_stock_out_on: "projected stock-out on",
      reorder_point: "reorder point", suggested_quantity: "suggested quantity", tranche_id: "tranche id",
      collected_before: "collected before", updated_at: "updated at",
    },
  },
};

const LANGUAGE_KEY = "ektp-lang";
const i18n = {
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
    for (const button of document.querySelectorAll("#language button")) {
      button.setAttribute("aria-pressed", String(button.dataset.lang === i18n.lang));
    }
  },
};
