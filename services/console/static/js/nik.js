// What a NIK says as the desk types it: PP KK CC DDMMYY NNNN, where PPKKCC is where its holder was first
// registered (not always Pesawaran: movers keep theirs), DD is the birth day (+40 for a woman), and NNNN is not
// 0000. The request service checks it again (python-stdnum); this only helps the form fill itself and say early
// what is wrong. Answers { ok, reason } or { ok, birthDate, sex, region }.
export function readNik(text, today = new Date()) {
  const nik = String(text || "").trim();
  if (!/^\d*$/.test(nik)) return { ok: false, reason: "nik.digits_only" };
  if (nik.length !== 16) return { ok: false, reason: "nik.length", count: nik.length };
  const province = Number(nik.slice(0, 2));
  if (province < 11 || province > 94) return { ok: false, reason: "nik.province" };
  let day = Number(nik.slice(6, 8));
  const sex = day > 40 ? "F" : "M";
  if (day > 40) day -= 40;
  const month = Number(nik.slice(8, 10));
  const yy = Number(nik.slice(10, 12));
  const century = 2000 + yy > today.getFullYear() ? 1900 : 2000;
  const year = century + yy;
  const date = new Date(Date.UTC(year, month - 1, day));
  if (month < 1 || month > 12 || day < 1 || date.getUTCDate() !== day || date.getUTCMonth() !== month - 1) {
    return { ok: false, reason: "nik.birth_date" };
  }
  if (nik.slice(12) === "0000") return { ok: false, reason: "nik.serial" };
  const birthDate = `${year}-${String(month).padStart(2, "0")}-${String(day).padStart(2, "0")}`;
  const region = `${nik.slice(0, 2)}.${nik.slice(2, 4)}.${nik.slice(4, 6)}`;
  return { ok: true, birthDate, sex, region };
}
