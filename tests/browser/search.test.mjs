// Search (issue 18) as a visiting nurse does it on a 390×844 phone:
// - from home's 🔍 she finds a post she wrote by a two-letter term (褥瘡) and the post's
//   stamp; the hit shows the room, and the matched words marked;
// - tapping the hit opens the room with the post on screen, a reply folded away under
//   「以前の返信」 too;
// - a full-width query (ＳｐＯ２) finds a half-width post (SpO2);
// - offline, the same search says it searched only the rooms kept on the device, and still
//   finds the post (the room's replica read from IndexedDB after an offline reload);
// - a room's 🔍 searches that room only, by default.
// Screenshots of the phone's screen at each step are kept as artifacts.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { openDevice, signIn, closeAll, artifactsDir, postInRoom } from "./lib/browser.mjs";

after(closeAll);

const PATIENT = "山田 太郎 様";
const OFFLINE_NOTICE = "オフラインのため、この端末に保存されたルームだけを検索しました";

/** The phone's screen (not the whole page). */
async function screen(device, label) {
  await device.page.screenshot({ path: path.join(artifactsDir, `screen-${device.name}-${label}.png`) });
}

/** Searches from the search screen and returns the hit holding `expected`. */
async function search(device, query, expected) {
  const { page } = device;
  await page.getByLabel("検索する言葉").fill(query);
  await page.getByLabel("検索する言葉").press("Enter");
  const hit = page.locator("li.hit", { hasText: expected });
  await hit.waitFor();
  return hit;
}

/** Waits until `article#post-{id}` is on the phone's screen (below the top bar). */
async function postOnScreen(device, id) {
  await device.page.waitForFunction((id) => {
    const el = document.getElementById(`post-${id}`);
    if (!el) return false;
    const r = el.getBoundingClientRect();
    return r.height > 0 && r.top >= 40 && r.top < window.innerHeight - 80;
  }, id);
}

async function postIdOf(hit) {
  const href = await hit.locator("a.hit-link").getAttribute("href");
  const id = new URL(href, "http://x").searchParams.get("post");
  assert.match(id, /^[0-9A-Z]{26}$/);
  return id;
}

test("search finds a post, opens the room at it, full-width and offline too", async () => {
  const nurse = await openDevice("nurse");
  const { page } = nurse;
  await signIn(nurse, "nurse1");
  const stamp = String(Date.now());
  const wound = `褥瘡の処置をしました (${stamp})`;
  const spo2 = `夜間の SpO2 は 92% でした (${stamp})`;
  await postInRoom(nurse, PATIENT, wound);
  // Three replies: the first is folded away under 「以前の返信 1 件を表示」.
  const replies = [`創部は清潔 (${stamp})`, `ガーゼ交換済み (${stamp})`, `次回も確認 (${stamp})`];
  for (const text of replies) {
    await page.locator("article", { hasText: wound }).getByRole("button", { name: "返信", exact: true }).click();
    await page.getByLabel("返信を書く").fill(text);
    await page.getByRole("button", { name: "返信する" }).click();
    await page.locator("article", { hasText: text }).getByText("保存済み").waitFor();
  }
  await page.getByLabel("新しい投稿を書く").fill(spo2);
  await page.getByRole("button", { name: "投稿する" }).click();
  await page.locator("article", { hasText: spo2 }).getByText("保存済み").waitFor();
  // Several other threads on top of the wound thread, so it is not the first on screen.
  for (let i = 0; i < 4; i++) {
    const text = `バイタル安定 ${i} (${stamp})`;
    await page.getByLabel("新しい投稿を書く").fill(text);
    await page.getByRole("button", { name: "投稿する" }).click();
    await page.locator("article", { hasText: text }).getByText("保存済み").waitFor();
  }
  await page.getByRole("button", { name: "戻る" }).click();

  // From home's top bar.
  const searchButton = page.getByRole("button", { name: "検索", exact: true });
  const box = await searchButton.boundingBox();
  assert.ok(box.width >= 44 && box.height >= 44, `🔍 is a 44 px target: ${JSON.stringify(box)}`);
  await searchButton.click();
  for (const name of ["自分の投稿", "添付あり", "確認待ち"]) {
    const b = await page.getByRole("button", { name }).boundingBox();
    assert.ok(b.height >= 44, `${name} is 44 px tall`);
  }
  const hit = await search(nurse, `褥瘡 ${stamp}`, wound);
  assert.deepEqual(await hit.locator("mark").allTextContents(), ["褥瘡", stamp]);
  assert.match(await hit.locator(".hit-room").textContent(), /山田 太郎/);
  // Only the thread start holds 褥瘡.
  assert.equal(await page.locator("li.hit").count(), 1);
  const noHorizontalScroll = await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
  assert.ok(noHorizontalScroll, "the search screen fits 390 px");
  await screen(nurse, "search-hit");

  // The hit opens the room at the post.
  const woundId = await postIdOf(hit);
  await hit.click();
  await postOnScreen(nurse, woundId);
  assert.match(page.url(), /\/rooms\/\d+$/);
  await screen(nurse, "room-at-hit");

  // A folded reply is unfolded and shown.
  await page.goBack();
  const replyHit = await search(nurse, `創部 ${stamp}`, replies[0]);
  assert.match(await replyHit.textContent(), /返信/);
  const replyId = await postIdOf(replyHit);
  await replyHit.click();
  await postOnScreen(nurse, replyId);
  await screen(nurse, "room-at-folded-reply");

  // Full-width ＳｐＯ２ finds the half-width SpO2.
  await page.goBack();
  await page.getByLabel("検索する言葉").waitFor();
  const spo2Hit = await search(nurse, `ＳｐＯ２ ${stamp}`, spo2);
  assert.deepEqual(await spo2Hit.locator("mark").allTextContents(), ["SpO2", stamp]);
  await screen(nurse, "search-full-width");

  // Offline, after a reload: the rooms kept on the device.
  await nurse.serviceWorkerControls();
  await page.getByRole("button", { name: "戻る" }).click();
  await page.getByRole("tab", { name: /患者/ }).waitFor();
  await nurse.setOnline(false);
  await page.reload({ waitUntil: "load" });
  await page.getByRole("button", { name: "検索", exact: true }).click();
  const offlineHit = await search(nurse, `褥瘡 ${stamp}`, wound);
  await page.getByText(OFFLINE_NOTICE).waitFor();
  assert.deepEqual(await offlineHit.locator("mark").allTextContents(), ["褥瘡", stamp]);
  assert.match(await offlineHit.locator(".hit-room").textContent(), /山田 太郎/);
  assert.match(await offlineHit.locator(".hit-author").textContent(), /\S/);
  await screen(nurse, "search-offline");
  await offlineHit.click();
  await postOnScreen(nurse, woundId);
  await screen(nurse, "room-at-hit-offline");
  await nurse.setOnline(true);

  // A room's 🔍 searches that room (a chip that can be turned off).
  await page.getByRole("button", { name: "このルームを検索" }).click();
  const only = page.getByRole("button", { name: /のみ$/ });
  await page.getByRole("button", { name: "山田 太郎 様 のみ" }).waitFor();
  assert.equal(await only.getAttribute("aria-pressed"), "true");
  await search(nurse, `処置 ${stamp}`, wound);
  await screen(nurse, "search-in-room");
  await only.click();
  assert.equal(await only.getAttribute("aria-pressed"), "false");
});
