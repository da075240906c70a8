// 駐車場, the staff side (issue 17), on 390×844 phones with the demo's own map tiles:
// - nurse1 opens 松本's patient room → 「🅿 近くの駐車場」: the home and the P markers on the map
//   (tiles from this server only, no other host asked), the list nearest first with 徒歩約N分;
// - books the nearest space's first free start for 30 minutes with a plate, and sees it in
//   今日の予約;
// - nurse2, whose screen (from 加藤's room nearby) still showed that time free, is refused
//   with the server's message naming the booking in the way;
// - nurse1 cancels; nurse2, opening the space again, books the same time, and reports a
//   problem with it (トラブル報告), which the city's parking manager reads;
// - a pharmacist of an organisation the city did not approve is told in words that they
//   cannot book;
// - a helper in a room whose home nobody placed sets it by tapping the map, and the spaces
//   around it appear.
// Screenshots at each step are kept as artifacts.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { openDevice, signIn, closeAll, apiSignIn, api, baseUrl } from "./lib/browser.mjs";

after(closeAll);

const PARKING = "/api/parking/demo";
const JST = 9 * 3600_000;

function hm(ms) {
  const d = new Date(ms + JST);
  return `${d.getUTCHours()}:${String(d.getUTCMinutes()).padStart(2, "0")}`;
}

async function fitsPhone(page, what) {
  const fits = await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
  assert.ok(fits, `${what} fits 390 px without scrolling sideways`);
}

async function tallEnough(locator, what) {
  for (const el of await locator.all()) {
    const box = await el.boundingBox();
    if (box) assert.ok(box.height >= 44, `${what} is a 44 px target (${box.height})`);
  }
}

/** From home: the patient room titled `title`, then its 近くの駐車場. */
async function openNearby(device, title) {
  const { page } = device;
  await page.getByRole("link", { name: new RegExp(title) }).first().click();
  await page.getByRole("link", { name: "🅿 近くの駐車場" }).click();
}

/** The booking sheet of `name`, on the day the test books (today, or tomorrow late at night). */
async function openSheet(page, name, tomorrow) {
  await page.locator("li.parking-space", { has: page.locator(".name", { hasText: name }) }).getByRole("button").click();
  const sheet = page.getByRole("dialog", { name });
  await sheet.waitFor();
  if (tomorrow) await sheet.getByRole("button", { name: "明日" }).click();
  await sheet.getByLabel("開始時刻").waitFor();
  return sheet;
}

test("nurses find parking near the patient's home, book, collide, cancel; the unapproved are told", async () => {
  const t1 = await apiSignIn("nurse1");
  const rooms = await api(t1, "/api/rooms");
  const matsumoto = rooms.find((r) => r.title === "松本 茂");
  assert.ok(matsumoto, "nurse1 is in 松本's room");
  const home = await api(t1, `/api/rooms/${matsumoto.id}/home`);
  assert.equal(home.source, "pin", "松本's home is a staff pin in the demo");
  const { latitude, longitude } = home.location;
  const nearby = await api(t1, `${PARKING}/spaces/nearby?lat=${latitude}&lon=${longitude}&radius_m=1000`);
  assert.ok(nearby.length >= 2, `spaces near 松本 (${nearby.length})`);
  const nearest = nearby[0];
  // Late at night (Japan time) today has too little left: the test books tomorrow.
  const tomorrow = new Date(Date.now() + JST).getUTCHours() >= 23;

  const a = await openDevice("nurse1");
  const b = await openDevice("nurse2");
  const requests = [];
  a.context.on("request", (r) => requests.push(r.url()));
  await signIn(a, "nurse1");
  await signIn(b, "nurse2");
  const { page } = a;

  await openNearby(a, "松本 茂");
  const map = page.locator("#parking-map");
  await map.locator(".rk-home").waitFor();
  await map.locator(".rk-space").first().waitFor();
  await map.locator("img.leaflet-tile-loaded").first().waitFor();
  const tileSrc = await map.locator("img.leaflet-tile").first().getAttribute("src");
  assert.ok(tileSrc.startsWith(`${baseUrl}/api/tiles/`) || tileSrc.startsWith("/api/tiles/"), tileSrc);
  assert.equal(await map.locator(".rk-space").count(), nearby.length, "a P marker per space");
  await page.getByText("🏠 自宅の位置：担当者のピン（佐藤 花子）").waitFor();

  // The list, nearest first, with the walk and the distance.
  const rows = page.locator("li.parking-space");
  await rows.first().waitFor();
  assert.deepEqual(await rows.locator(".name").allTextContents(), nearby.map((n) => n.space.name));
  const walks = await rows.locator(".walk strong").allTextContents();
  assert.deepEqual(walks, nearby.map((n) => `徒歩約${n.walk_min}分`));
  const limited = nearby.findIndex((n) => n.space.limits.includes("kei_only"));
  if (limited >= 0) await rows.nth(limited).getByText("軽自動車のみ").first().waitFor();
  await tallEnough(page.locator(".parking-space-button"), "a space");
  await tallEnough(page.locator(".parking-radius button"), "a radius");
  await fitsPhone(page, "近くの駐車場");
  await a.screenshot("parking-nearby");
  const foreign = requests.filter((u) => !u.startsWith(baseUrl) && !u.startsWith("data:") && !u.startsWith("blob:"));
  assert.deepEqual(foreign, [], "the app asked no other host");

  // nurse2 opens the same space from 加藤's room before nurse1 books.
  await openNearby(b, "加藤 正男");
  await b.page.locator("li.parking-space").first().waitFor();
  const sheetB = await openSheet(b.page, nearest.space.name, tomorrow);

  // nurse1 books the first free start, 30 minutes, with a plate.
  const sheet = await openSheet(page, nearest.space.name, tomorrow);
  const start = sheet.getByLabel("開始時刻");
  const value = await start.inputValue();
  assert.ok(value, "a start time is offered");
  const startMs = Number(value);
  const window = `${hm(startMs)}–${hm(startMs + 30 * 60_000)}`;
  await sheet.getByRole("radio", { name: "30分" }).click();
  await sheet.getByLabel("車のナンバー").fill("デモ 500 さ 77-77");
  await sheet.getByText(`${window} に予約します`).waitFor();
  await tallEnough(sheet.getByRole("radio"), "a duration");
  await tallEnough(sheet.getByRole("button", { name: "予約する" }), "予約する");
  await a.screenshot("parking-book");
  await sheet.getByRole("button", { name: "予約する" }).click();

  // 今日の予約 (or that day's) shows it.
  await page.getByRole("tab", { name: "今日の予約", selected: true }).waitFor();
  const mine = page.locator("li.booking", { hasText: "デモ 500 さ 77-77" });
  await mine.waitFor();
  await mine.getByText(window).waitFor();
  await mine.getByText(nearest.space.name).waitFor();
  await mine.getByText("予約済み").waitFor();
  await fitsPhone(page, "今日の予約");
  await a.screenshot("parking-mine");

  // nurse2's screen still shows that time: the server refuses, naming nurse1's booking.
  await sheetB.getByLabel("開始時刻").selectOption(value);
  await sheetB.getByRole("radio", { name: "30分" }).click();
  await sheetB.getByLabel("車のナンバー").fill("デモ 500 さ 88-88");
  await sheetB.getByRole("button", { name: "予約する" }).click();
  const refusal = sheetB.getByRole("alert");
  await refusal.waitFor();
  const said = await refusal.textContent();
  assert.match(said, /この時間は予約済みです/);
  assert.ok(said.includes(`${hm(startMs).padStart(5, "0")}–${hm(startMs + 30 * 60_000).padStart(5, "0")}`), said);
  assert.match(said, /ひかり訪問看護ステーション/);
  await b.screenshot("parking-conflict");

  // nurse1 cancels: the time is free again, and nurse2 books it.
  await mine.getByRole("button", { name: "予約を取り消す" }).click();
  await mine.getByRole("button", { name: "取り消す", exact: true }).click();
  await page.getByText(/予約を取り消しました/).waitFor();
  await page.locator("li.booking", { hasText: "デモ 500 さ 77-77" }).getByText("取消済み").waitFor();
  await a.screenshot("parking-cancelled");
  await sheetB.getByRole("button", { name: "閉じる" }).first().click();
  const again = await openSheet(b.page, nearest.space.name, tomorrow);
  await again.getByLabel("開始時刻").selectOption(value);
  await again.getByRole("radio", { name: "30分" }).click();
  await again.getByLabel("車のナンバー").fill("デモ 500 さ 88-88");
  await again.getByRole("button", { name: "予約する" }).click();
  await b.page.locator("li.booking", { hasText: "デモ 500 さ 88-88" }).getByText(window).waitFor();
  await b.screenshot("parking-rebooked");

  // nurse2 reports a problem with it; the city's parking manager reads it.
  const hers = b.page.locator("li.booking", { hasText: "デモ 500 さ 88-88" });
  await hers.getByRole("button", { name: "トラブル報告" }).click();
  const report = b.page.getByRole("dialog", { name: "トラブル報告" });
  await report.getByLabel("何がありましたか").fill("区画に別の車が停まっていた（テスト）");
  await b.screenshot("parking-trouble");
  await report.getByRole("button", { name: "報告する" }).click();
  await b.page.getByText("トラブルを市の担当に報告しました。").waitFor();
  const city = await apiSignIn("city2");
  const troubles = await api(city, `${PARKING}/troubles`);
  const filed = troubles.find((t) => t.body === "区画に別の車が停まっていた（テスト）");
  assert.ok(filed, "the city sees the report");
  assert.equal(filed.side, "booker");
  assert.equal(filed.space, nearest.space.id);

  // The plate booked with last is remembered on the device.
  await page.getByRole("tab", { name: "🅿 近くの駐車場" }).click();
  const next = await openSheet(page, nearest.space.name, tomorrow);
  assert.equal(await next.getByLabel("車のナンバー").inputValue(), "デモ 500 さ 77-77", "the plate is remembered");
  await next.getByRole("button", { name: "閉じる" }).first().click();

  // Home's line to today's bookings.
  await page.getByRole("button", { name: "戻る" }).click();
  await page.getByRole("button", { name: "戻る" }).click();
  await page.getByRole("link", { name: /今日の駐車場の予約/ }).waitFor();
  await a.screenshot("home-parking-entry");

  // A pharmacist (あおば薬局, not approved) is told, not shown an error.
  const c = await openDevice("pharmacist1");
  await signIn(c, "pharmacist1");
  await openNearby(c, "松本 茂");
  const told = c.page.getByRole("alert").filter({ hasText: "予約できません" });
  await told.waitFor();
  await told.getByText(/あおば薬局/).waitFor();
  assert.equal(await c.page.locator("li.parking-space").count(), 0);
  await c.screenshot("parking-not-approved");
});

test("a room whose home nobody placed: the helper sets the pin by tapping the map", async () => {
  const h = await openDevice("helper1");
  const { page } = h;
  await signIn(h, "helper1");
  await openNearby(h, "吉田 トミ");
  await page.getByText("自宅の位置が登録されていません").waitFor();
  await h.screenshot("parking-no-home");
  await page.getByRole("button", { name: "地図で自宅の位置を設定" }).click();
  await page.getByText("自宅の位置を地図上でタップしてください。").waitFor();
  const map = page.locator("#parking-map");
  await map.locator(".leaflet-tile-loaded").first().waitFor();
  const box = await map.boundingBox();
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
  await page.getByRole("button", { name: "ここを自宅にする" }).click();
  await page.getByText("自宅の位置を保存しました。").waitFor();
  await map.locator(".rk-home").waitFor();
  await page.getByText("🏠 自宅の位置：担当者のピン（渡辺 洋子）").waitFor();
  await page.locator("li.parking-space").first().waitFor();
  await h.screenshot("parking-pin-set");
  const token = await apiSignIn("helper1");
  const rooms = await api(token, "/api/rooms");
  const yoshida = rooms.find((r) => r.title === "吉田 トミ");
  const home = await api(token, `/api/rooms/${yoshida.id}/home`);
  assert.equal(home.source, "pin");
  assert.equal(home.pin.set_by_name, "渡辺 洋子");
});
