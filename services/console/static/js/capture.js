// The resident's photo and signature at the desk. The photo: the desk's webcam (cropped to the card's 2:3
// portrait, 472 × 709 px as at 300 dpi, JPEG) or a file; the signature: drawn on a pad with a pen, finger or
// mouse (PNG), or a scanned file. Previews are blob: URLs of the page's own making (the CSP allows no other).
import { el, t } from "./core.js";
import { button } from "./forms.js";

const PHOTO = { width: 472, height: 709 };

function preview(img, blob) {
  if (img.src) URL.revokeObjectURL(img.src);
  if (blob) img.src = URL.createObjectURL(blob); else img.removeAttribute("src");
  img.hidden = !blob;
}

export function camera(onPhoto) {
  const video = el("video", { autoplay: true, playsinline: true, muted: true, hidden: true, width: 236, height: 354 });
  const img = el("img", { alt: t("capture.photo_preview"), "data-i18n-alt": "capture.photo_preview", hidden: true, class: "photo", id: "photo-preview" });
  const file = el("input", { type: "file", name: "photo-file", id: "photo-file", accept: "image/jpeg,image/png" });
  let stream = null;
  const take = button("capture.take", { hidden: true });
  const stop = () => { if (stream) for (const track of stream.getTracks()) track.stop(); stream = null; video.hidden = true; take.hidden = true; };
  const chosen = blob => { preview(img, blob); onPhoto(blob); };
  file.addEventListener("change", () => { stop(); chosen(file.files[0] || null); });
  const start = button("capture.camera", {
    onclick: async () => {
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { message.textContent = t("capture.no_camera"); return; }
      try {
        stream = await navigator.mediaDevices.getUserMedia({ video: { width: 1280, height: 720 } });
        video.srcObject = stream; video.hidden = false; take.hidden = false; message.textContent = "";
      } catch { message.textContent = t("capture.no_camera"); }
    },
  });
  take.addEventListener("click", () => {
    // The middle of the frame at the card's 2:3, scaled to 472 × 709.
    const canvas = el("canvas", { width: PHOTO.width, height: PHOTO.height });
    const side = Math.min(video.videoWidth, video.videoHeight * 2 / 3);
    const sx = (video.videoWidth - side) / 2, sh = side * 3 / 2, sy = (video.videoHeight - sh) / 2;
    canvas.getContext("2d").drawImage(video, sx, sy, side, sh, 0, 0, PHOTO.width, PHOTO.height);
    canvas.toBlob(blob => { stop(); file.value = ""; chosen(blob); }, "image/jpeg", 0.9);
  });
  const message = el("small", { class: "hint", "aria-live": "polite" });
  const node = el("div", { class: "capture" },
    el("span", { class: "label", "data-i18n": "capture.photo" }, t("capture.photo")),
    el("label", { class: "field" }, el("span", { "data-i18n": "capture.photo_file" }, t("capture.photo_file")), file),
    el("p", {}, start, " ", take), video, img, message);
  return { node };
}

export function signaturePad() {
  const canvas = el("canvas", { width: 600, height: 200, class: "pad", role: "img", "aria-label": t("capture.signature_pad"), "data-i18n-label": "capture.signature_pad" });
  const context = canvas.getContext("2d");
  const file = el("input", { type: "file", name: "signature-file", id: "signature-file", accept: "image/jpeg,image/png" });
  const pad = { drawn: false, scanned: null };
  let last = null;
  const point = event => {
    const box = canvas.getBoundingClientRect();
    return [(event.clientX - box.left) * canvas.width / box.width, (event.clientY - box.top) * canvas.height / box.height];
  };
  canvas.addEventListener("pointerdown", event => { canvas.setPointerCapture(event.pointerId); last = point(event); });
  canvas.addEventListener("pointermove", event => {
    if (!last) return;
    const next = point(event);
    context.lineWidth = 3; context.lineCap = "round"; context.strokeStyle = "#000";
    context.beginPath(); context.moveTo(...last); context.lineTo(...next); context.stroke();
    last = next; pad.drawn = true;
  });
  for (const name of ["pointerup", "pointercancel", "pointerleave"]) canvas.addEventListener(name, () => { last = null; });
  file.addEventListener("change", () => { pad.scanned = file.files[0] || null; });
  const clear = () => {
    context.fillStyle = "#fff"; context.fillRect(0, 0, canvas.width, canvas.height);
    pad.drawn = false; pad.scanned = null; file.value = "";
  };
  const node = el("div", { class: "capture" },
    el("span", { class: "label", "data-i18n": "capture.signature" }, t("capture.signature")),
    canvas, el("p", {}, button("capture.clear_signature", { onclick: clear })),
    el("label", { class: "field" }, el("span", { "data-i18n": "capture.signature_file" }, t("capture.signature_file")), file));
  return {
    node, clear,
    // The scan if one was chosen, else the pad's drawing; null when neither.
    blob: () => pad.scanned ? Promise.resolve(pad.scanned)
      : pad.drawn ? new Promise(resolve => canvas.toBlob(resolve, "image/png")) : Promise.resolve(null),
  };
}
