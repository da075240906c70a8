// Two professionals of one care team on their phones: a thread posted by one appears live
// for the other, who replies and reacts; the first sees the reply, the count and who
// reacted. Offline: a post written with the network cut survives a reload as 送信待ち and
// reaches the colleague exactly once when the network returns. Pins: a pinned patient stays
// on top after a reload and on a second device. Screenshots of sign-in, home, a timeline and
// the who-reacted list are kept as artifacts.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { openDevice, signIn, closeAll, municipality } from "./lib/browser.mjs";

after(closeAll);

const PATIENT = "山田 太郎 様";

/** Opens the patient's room from home. */
async function openRoom(device, title = PATIENT) {
  await device.page.getByRole("link", { name: new RegExp(title) }).click();
  await device.page.getByLabel("新しい投稿を書く").waitFor();
}

async function post(device, text) {
  const { page } = device;
  await page.getByLabel("新しい投稿を書く").fill(text);
  await page.getByRole("button", { name: "投稿する" }).click();
}

const article = (device, text) => device.page.locator("article", { hasText: text });

test("a thread, a live reply and a reaction between two professionals", async () => {
  const nurse = await openDevice("nurse");
  const doctor = await openDevice("doctor");

  await nurse.goto(`/${municipality}/`);
  await nurse.page.getByLabel("ログイン ID").waitFor();
  await nurse.screenshot("sign-in");
  await signIn(nurse, "nurse1");
  await signIn(doctor, "doctor1");
  await nurse.page.getByRole("link", { name: new RegExp(PATIENT) }).waitFor();
  await nurse.screenshot("home");

  await openRoom(nurse);
  await openRoom(doctor);
  const text = `本日 14 時訪問。血圧 132/84、褥瘡は改善傾向です。(${Date.now()})`;
  await post(nurse, text);
  await article(nurse, text).getByText("保存済み").waitFor();

  // The doctor's open timeline shows it without a reload.
  await article(doctor, text).waitFor();
  await article(doctor, text).getByRole("button", { name: "返信" }).click();
  const reply = `承知しました。次回処方を調整します。(${Date.now()})`;
  await doctor.page.getByLabel("返信を書く").fill(reply);
  await doctor.page.getByRole("button", { name: "返信する" }).click();
  await article(doctor, text).getByRole("button", { name: "了解", exact: true }).click();

  // The nurse sees the reply, the count and who pressed it.
  await article(nurse, reply).waitFor();
  const count = article(nurse, text).getByRole("button", { name: "了解した人 1 人" });
  await count.waitFor();
  await nurse.screenshot("timeline");
  await count.click();
  const sheet = nurse.page.getByRole("dialog", { name: "「了解」した人" });
  await sheet.getByText("南 健一").waitFor();
  await sheet.getByText(/医師 · みなみ在宅クリニック/).waitFor();
  await nurse.screenshot("who-reacted");
  await sheet.getByRole("button", { name: "閉じる" }).click();

  // Read status: the doctor has read the nurse's post.
  await article(nurse, text).getByRole("button", { name: /^既読 [1-9]/ }).waitFor();
});

test("a post written offline survives a reload and arrives exactly once", async () => {
  const nurse = await openDevice("nurse-offline");
  const doctor = await openDevice("doctor-offline");
  await signIn(nurse, "nurse1");
  await signIn(doctor, "doctor1");
  await nurse.serviceWorkerControls();
  await openRoom(nurse);
  await openRoom(doctor);

  await nurse.setOnline(false);
  await nurse.page.getByText(/オフラインです/).waitFor();
  const text = `電波のない場所から: 訪問終了、変化なし。(${Date.now()})`;
  await post(nurse, text);
  await article(nurse, text).getByText("送信待ち").waitFor();

  // Reloaded with no network: the shell from the service worker, the post still pending.
  const response = await nurse.page.reload({ waitUntil: "load" });
  assert.ok(response?.fromServiceWorker(), "the shell came from the service worker");
  await article(nurse, text).getByText("送信待ち").waitFor();
  await nurse.screenshot("offline-pending");
  assert.equal(await doctor.page.getByText(text).count(), 0, "nothing reached the doctor yet");

  await nurse.setOnline(true);
  await article(nurse, text).getByText("保存済み").waitFor();
  await article(doctor, text).waitFor();
  // Exactly once, also after the doctor reloads from the server.
  assert.equal(await doctor.page.getByText(text).count(), 1);
  await doctor.page.reload({ waitUntil: "load" });
  await article(doctor, text).waitFor();
  assert.equal(await doctor.page.getByText(text).count(), 1);
});

test("a pinned patient stays on top after a reload and on a second device", async () => {
  const phone = await openDevice("pin-phone");
  await signIn(phone, "nurse1");
  const rows = phone.page.locator("li.room");
  await rows.first().waitFor();
  const last = (await rows.last().locator(".room-title").textContent()).trim();
  assert.notEqual((await rows.first().locator(".room-title").textContent()).trim(), last);

  await rows.last().getByRole("button", { name: "ピン留め" }).click();
  await phone.page.locator("li.room.pinned .room-title", { hasText: last }).waitFor();
  assert.equal((await rows.first().locator(".room-title").textContent()).trim(), last);
  // Saved on the server before we look elsewhere.
  await phone.page.getByText(/送信待ち/).waitFor({ state: "detached" }).catch(() => {});

  await phone.page.reload({ waitUntil: "load" });
  await phone.page.locator("li.room.pinned").first().waitFor();
  assert.equal((await rows.first().locator(".room-title").textContent()).trim(), last);

  const tablet = await openDevice("pin-tablet");
  await signIn(tablet, "nurse1");
  const tabletRows = tablet.page.locator("li.room");
  await tablet.page.locator("li.room.pinned .room-title", { hasText: last }).waitFor();
  assert.equal((await tabletRows.first().locator(".room-title").textContent()).trim(), last);
  await tablet.screenshot("pinned-second-device");
  assert.equal(
    await tabletRows.first().getByRole("button", { name: "ピン留めを外す" }).getAttribute("aria-pressed"),
    "true",
  );
});
