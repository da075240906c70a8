// Attachments (issue 6) in the real app: a nurse attaches a photo to a post and the doctor
// sees its thumbnail and opens it full size; the same done with the network cut waits on
// the nurse's phone (送信待ち) and reaches the doctor once the network returns.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { openDevice, signIn, closeAll } from "./lib/browser.mjs";

after(closeAll);

const PATIENT = "山田 太郎 様";

async function openRoom(device, title = PATIENT) {
  await device.page.getByRole("link", { name: new RegExp(title) }).click();
  await device.page.getByLabel("新しい投稿を書く").waitFor();
}

const article = (device, text) => device.page.locator("article", { hasText: text });

/** A real JPEG, drawn by the browser itself (no fixture file). */
async function photo(device, colour) {
  const base64 = await device.page.evaluate((fill) => {
    const canvas = document.createElement("canvas");
    canvas.width = 96;
    canvas.height = 64;
    const g = canvas.getContext("2d");
    g.fillStyle = fill;
    g.fillRect(0, 0, 96, 64);
    g.fillStyle = "#fff";
    g.fillRect(20, 20, 30, 20);
    return canvas.toDataURL("image/jpeg", 0.9).split(",")[1];
  }, colour);
  return Buffer.from(base64, "base64");
}

/** Writes a new thread with a photo attached through the composer's photo button. */
async function postWithPhoto(device, text, name, buffer) {
  const { page } = device;
  await page.getByLabel("新しい投稿を書く").fill(text);
  await page
    .locator('form.composer input[type="file"][accept="image/*"]')
    .first()
    .setInputFiles({ name, mimeType: "image/jpeg", buffer });
  await page.getByRole("button", { name: "投稿する" }).click();
}

/** Waits until the thumbnail image has really loaded (decoded, non-zero size). */
async function thumbnailLoaded(device, text, name) {
  const img = article(device, text).getByRole("img", { name });
  await img.waitFor();
  await device.page.waitForFunction(
    (el) => el.complete && el.naturalWidth > 0,
    await img.elementHandle(),
  );
  return img;
}

test("a photo attached to a post appears as a thumbnail for the colleague", async () => {
  const nurse = await openDevice("attach-nurse");
  const doctor = await openDevice("attach-doctor");
  await signIn(nurse, "nurse1");
  await signIn(doctor, "doctor1");
  await openRoom(nurse);
  await openRoom(doctor);

  const text = `褥瘡の写真です。発赤が縮小しています。(${Date.now()})`;
  await postWithPhoto(nurse, text, "褥瘡.jpg", await photo(nurse, "#c0392b"));
  await thumbnailLoaded(nurse, text, "褥瘡.jpg");

  const thumb = await thumbnailLoaded(doctor, text, "褥瘡.jpg");
  await doctor.screenshot("thumbnail");
  // Full size: the original photo, in a viewer.
  await thumb.click();
  const viewer = doctor.page.getByRole("dialog", { name: "褥瘡.jpg" });
  await viewer.waitFor();
  const full = viewer.getByRole("img", { name: "褥瘡.jpg" });
  await doctor.page.waitForFunction((el) => el.complete && el.naturalWidth === 96, await full.elementHandle());
  await doctor.screenshot("full-size");
  await viewer.getByRole("button", { name: "閉じる" }).click();
});

test("a photo attached offline uploads when the network returns", async () => {
  const nurse = await openDevice("attach-nurse-offline");
  const doctor = await openDevice("attach-doctor-offline");
  await signIn(nurse, "nurse1");
  await signIn(doctor, "doctor1");
  await nurse.serviceWorkerControls();
  await openRoom(nurse);
  await openRoom(doctor);
  const buffer = await photo(nurse, "#2471a3");

  await nurse.setOnline(false);
  await nurse.page.getByText(/オフラインです/).waitFor();
  const text = `電波のない訪問先で撮影: 薬の棚。(${Date.now()})`;
  await postWithPhoto(nurse, text, "shelf.jpg", buffer);
  await article(nurse, text).getByText(/送信待ち/).first().waitFor();
  await article(nurse, text).getByText(/送信待ち: shelf\.jpg/).waitFor();
  await nurse.screenshot("offline-pending");
  assert.equal(await doctor.page.getByText(text).count(), 0, "nothing reached the doctor yet");

  await nurse.setOnline(true);
  // The post and then its photo reach the doctor.
  await article(doctor, text).waitFor();
  await thumbnailLoaded(doctor, text, "shelf.jpg");
  await thumbnailLoaded(nurse, text, "shelf.jpg");
  assert.equal(await article(nurse, text).getByText(/送信待ち: shelf\.jpg/).count(), 0);
  await doctor.screenshot("after-reconnect");
});

// On a slow phone, storing a picked photo takes a moment; a tap on 投稿する in that moment
// must not send the post without it (CI once saw exactly that: the post, and no photo).
// The init script makes the moment long: the attachments database opens 1.5 s late.
function slowAttachmentStore() {
  const open = IDBFactory.prototype.open;
  IDBFactory.prototype.open = function (name, ...rest) {
    if (!String(name).endsWith("-attachments")) return open.call(this, name, ...rest);
    const late = new EventTarget();
    let real = null;
    for (const p of ["result", "error", "readyState", "transaction"]) {
      Object.defineProperty(late, p, { get: () => real?.[p] });
    }
    late.onsuccess = late.onerror = late.onupgradeneeded = late.onblocked = null;
    setTimeout(() => {
      real = open.call(indexedDB, name, ...rest);
      for (const type of ["success", "error", "upgradeneeded", "blocked"]) {
        real.addEventListener(type, (event) => late[`on${type}`]?.(event));
      }
    }, 1500);
    return late;
  };
}

test("a post sent while its photo is still being stored waits for it", async () => {
  const nurse = await openDevice("attach-nurse-quick");
  await nurse.page.addInitScript(slowAttachmentStore);
  await signIn(nurse, "nurse1");
  await openRoom(nurse);
  const text = `急いで投稿: 足の写真。(${Date.now()})`;
  // No waiting between picking the photo and tapping 投稿する.
  await postWithPhoto(nurse, text, "foot.jpg", await photo(nurse, "#7d3c98"));
  await thumbnailLoaded(nurse, text, "foot.jpg");
});
