// A visiting nurse's room on a 390×844 phone, with a doctor posting from another phone:
// - the composer is docked at the bottom of the screen (no ＋ 新しい投稿 first), 📷 and 📎
//   are 44×44 px, a picked photo shows its thumbnail, upload state and a remove button;
// - posts written while the nurse was away start the room at 「ここから未読（3 件）」,
//   right before the oldest of them, with the divider on screen;
// - a long post is folded behind 続きを読む; a counter shows near the 10,000-character limit;
// - a quick reply 「了解しました」 is one tap, the colleague sees it live, and neither it nor a
//   typed reply moves the thread one is reading; a reply's footer stays on one line;
// - a pinned post shows once (in the pinned section), not twice;
// - the text-size setting (大きい) changes the whole app and survives a reload; the
//   notification settings are labelled switches; the room's bell is there when the room is
//   opened offline.
// Screenshots of the phone's screen at each step are kept as artifacts.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { openDevice, signIn, closeAll, artifactsDir, municipality } from "./lib/browser.mjs";

after(closeAll);

const PATIENT = "山田 太郎 様";
const ROOM_LINK = new RegExp(PATIENT);

async function openRoom(device) {
  await device.page.getByRole("link", { name: ROOM_LINK }).click();
  await device.page.getByLabel("新しい投稿を書く").waitFor();
}

async function post(device, text) {
  const { page } = device;
  await page.getByLabel("新しい投稿を書く").fill(text);
  await page.getByRole("button", { name: "投稿する" }).click();
  await page.locator("article", { hasText: text.split("\n")[0] }).getByText("保存済み").waitFor();
}

/** The phone's screen (not the whole page). */
async function screen(device, label) {
  await device.page.screenshot({ path: path.join(artifactsDir, `screen-${device.name}-${label}.png`) });
}

const article = (device, text) => device.page.locator("article", { hasText: text });

/** Resolves once the device's outbox (IndexedDB, app/src/store.rs) is empty: every write,
 * the read marker too, is saved by the server. */
async function outboxEmpty(device) {
  await device.page.waitForFunction(async () => {
    const me = JSON.parse(localStorage.getItem("renraku.me.demo") || "null");
    const db = await new Promise((resolve, reject) => {
      const r = indexedDB.open(`renraku-demo-${me.user.id}`);
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    try {
      const n = await new Promise((resolve, reject) => {
        const r = db.transaction("outbox").objectStore("outbox").count();
        r.onsuccess = () => resolve(r.result);
        r.onerror = () => reject(r.error);
      });
      return n === 0;
    } finally {
      db.close();
    }
  });
}
const top = async (locator) => (await locator.boundingBox()).y;

test("a room as a nurse reads and writes it", async () => {
  const nurse = await openDevice("nurse");
  const doctor = await openDevice("doctor");
  await signIn(nurse, "nurse1");
  await signIn(doctor, "doctor1");

  // Reading the room (and writing in it) marks everything read.
  await openRoom(nurse);
  await post(nurse, `訪問しました。著変なし。(${Date.now()})`);
  await outboxEmpty(nurse);
  const dock = nurse.page.locator("form.composer.docked");
  const box = await dock.boundingBox();
  assert.ok(box.y + box.height <= 845 && box.y + box.height >= 800, `composer docked at the bottom: ${JSON.stringify(box)}`);
  for (const title of ["写真を添付", "ファイルを添付"]) {
    const b = await dock.locator(`label.attach-button[title="${title}"]`).boundingBox();
    assert.ok(b.width >= 44 && b.height >= 44, `${title} is ${b.width}×${b.height}`);
  }
  await screen(nurse, "room-docked-composer");
  await nurse.goto(`/${municipality}/home?tab=patients`);
  await nurse.page.getByRole("link", { name: ROOM_LINK }).waitFor();

  // Meanwhile the doctor writes three posts, one of them long.
  await openRoom(doctor);
  const stamp = Date.now();
  const first = `発熱 37.8℃。抗菌薬を開始します。(${stamp})`;
  const longLines = Array.from({ length: 14 }, (_, i) => `${i + 1}. 経過観察の記録 ${i + 1} 行目。`);
  const long = `退院前カンファレンスのまとめ (${stamp})\n${longLines.join("\n")}\n最後の行: 次回は 12 月 10 日。`;
  const third = `明日の往診は 10 時の予定です。(${stamp})`;
  await post(doctor, first);
  await post(doctor, long);
  await post(doctor, third);

  // The nurse comes back: the room starts at the divider, right before the oldest unread post.
  await openRoom(nurse);
  const divider = nurse.page.locator("#unread-divider");
  await divider.getByText("ここから未読（3 件）").waitFor();
  await nurse.page.locator("#unread-divider + article", { hasText: first }).waitFor();
  await nurse.page.waitForFunction(() => {
    const r = document.getElementById("unread-divider")?.getBoundingClientRect();
    return r && r.top >= 0 && r.bottom <= window.innerHeight;
  });
  await screen(nurse, "unread-divider");

  // The long post is folded; 続きを読む shows the rest.
  const longPost = article(nurse, `退院前カンファレンスのまとめ (${stamp})`);
  assert.equal(await longPost.getByText("最後の行: 次回は 12 月 10 日。").count(), 0);
  await longPost.getByRole("button", { name: "続きを読む" }).click();
  await longPost.getByText(/最後の行: 次回は 12 月 10 日。/).waitFor();

  // A quick reply is one tap; the thread being read does not move.
  const firstThread = nurse.page.locator("section.thread", { has: nurse.page.locator("article", { hasText: first }) });
  await firstThread.scrollIntoViewIfNeeded();
  const before = await top(firstThread);
  await firstThread.getByRole("button", { name: "了解しました" }).click();
  const quick = firstThread.locator("article", { hasText: "了解しました" });
  await quick.getByText("保存済み").waitFor();
  assert.ok(Math.abs((await top(firstThread)) - before) < 2, "the thread stayed where it was");
  // A reply's footer (既読, 保存済み, ⋯) stays on one line on a 390 px phone.
  const foot = await quick.locator(".post-foot").boundingBox();
  assert.ok(foot.height < 50, `reply footer is ${foot.height} px high`);
  await screen(nurse, "quick-reply");
  // The doctor sees it live, in the thread.
  await doctor.page
    .locator("section.thread", { has: doctor.page.locator("article", { hasText: first }) })
    .locator("article", { hasText: "了解しました" })
    .waitFor();

  // A typed reply to another thread: that thread stays put too.
  const thirdThread = nurse.page.locator("section.thread", { has: nurse.page.locator("article", { hasText: third }) });
  await thirdThread.scrollIntoViewIfNeeded();
  const before3 = await top(thirdThread);
  await article(nurse, third).getByRole("button", { name: "返信" }).click();
  await nurse.page.getByLabel("返信を書く").fill("10 時で承知しました。");
  await nurse.page.getByRole("button", { name: "返信する" }).click();
  await thirdThread.locator("article", { hasText: "10 時で承知しました。" }).getByText("保存済み").waitFor();
  assert.ok(Math.abs((await top(thirdThread)) - before3) < 2, "the replied thread stayed where it was");

  // Pinned: shown once, in the pinned section.
  await article(nurse, first).getByRole("button", { name: "その他の操作" }).first().click();
  await nurse.page.getByRole("button", { name: "チームにピン留め" }).click();
  await nurse.page.locator("section.pinned article", { hasText: first }).waitFor();
  assert.equal(await nurse.page.locator("article", { hasText: first }).count(), 1, "the pinned post shows once");

  // The counter appears near the limit.
  await nurse.page.getByLabel("新しい投稿を書く").fill("あ".repeat(9_100));
  await dock.getByText("9,100 / 10,000").waitFor();
  await nurse.page.getByLabel("新しい投稿を書く").fill("");
  assert.equal(await dock.getByText("/ 10,000").count(), 0);

  // A picked photo shows in the composer, with its state and a way to take it out.
  const jpeg = Buffer.from(
    await nurse.page.evaluate(() => {
      const c = document.createElement("canvas");
      c.width = 320;
      c.height = 240;
      const g = c.getContext("2d");
      g.fillStyle = "#2e86c1";
      g.fillRect(0, 0, 320, 240);
      return c.toDataURL("image/jpeg", 0.9).split(",")[1];
    }),
    "base64",
  );
  await dock.locator('input[type="file"][accept="image/*"]').setInputFiles({ name: "足の写真.jpg", mimeType: "image/jpeg", buffer: jpeg });
  const chip = dock.locator(".attach-chip", { hasText: "足の写真.jpg" });
  await chip.getByText("送信済み").waitFor();
  await nurse.page.waitForFunction(() => {
    const img = document.querySelector("form.composer.docked .attach-chip img");
    return img && img.complete && img.naturalWidth > 0;
  });
  await screen(nurse, "composer-photo");
  await chip.getByRole("button", { name: "足の写真.jpg を外す" }).click();
  await chip.waitFor({ state: "detached" });

  // Text size 大きい: the whole app follows, after a reload too.
  await nurse.goto(`/${municipality}/settings`);
  await nurse.page.getByRole("radio", { name: "大きい" }).click();
  const bodySize = () => nurse.page.evaluate(() => getComputedStyle(document.body).fontSize);
  assert.equal(await bodySize(), "19px");
  // Notification settings: labelled switches.
  const lockScreen = nurse.page.getByRole("switch", { name: "ロック画面に内容を表示する" });
  await lockScreen.waitFor();
  await lockScreen.scrollIntoViewIfNeeded();
  await screen(nurse, "settings-large-text");
  await nurse.page.reload({ waitUntil: "load" });
  assert.equal(await nurse.page.evaluate(() => document.documentElement.classList.contains("text-large")), true);
  await nurse.page.getByRole("radio", { name: "大きい", checked: true }).waitFor();
  assert.equal(await bodySize(), "19px");
  await nurse.goto(`/${municipality}/home?tab=patients`);
  await openRoom(nurse);
  await screen(nurse, "room-large-text");

  // Offline, the room opens from what the phone kept, with its bell.
  const roomUrl = nurse.page.url();
  await nurse.setOnline(false);
  await nurse.page.reload({ waitUntil: "load" });
  await article(nurse, first).waitFor();
  await nurse.page.getByRole("button", { name: "このルームの通知をオフにする" }).waitFor();
  await screen(nurse, "room-offline-bell");
  await nurse.setOnline(true);
  assert.ok(roomUrl.includes("/rooms/"));
});
