// Home is alive (issue 15 §3): on the nurse's phone (390×844) the room list follows her
// colleague's posts without a reload — the room's row shows the new post's first line and
// an unread badge and moves to the top, and the tab's unread total changes (another tab's
// too, while it is not shown); a reload, offline, shows the same from what the phone kept.
// A 1:1 message room is titled by the other person. Screenshots of each step are kept.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { openDevice, signIn, closeAll, artifactsDir, postInRoom } from "./lib/browser.mjs";

after(closeAll);

const SHARED = ["山田 太郎 様", "小林 キヨ 様"]; // patient rooms of both nurse1 and doctor1
const NURSE = "佐藤 花子";
const DOCTOR = "南 健一";
const ONE_TO_ONE_TITLE = "南 医師・佐藤 看護師"; // the demo's stored title of their 1:1 room

/** What the phone's screen shows: `<artifacts>/screen-<device>-<label>.png`. */
async function screen(device, label) {
  await device.page.screenshot({ path: path.join(artifactsDir, `screen-${device.name}-${label}.png`) });
}

/** The number a badge inside `scope` shows (0 without one). One read, no waiting: a list
 * that re-renders between a count and a read would otherwise leave nothing to read. */
async function badge(scope) {
  const [shown] = await scope.locator(".badge").allTextContents();
  return Number(shown ?? 0);
}

/** Polls `check` until it returns `want`. */
async function until(check, want, what) {
  let got;
  for (let i = 0; i < 100; i++) {
    got = await check();
    if (got === want) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`${what}: ${got}, not ${want}, after 10 s`);
}

test("the room list follows a colleague's posts live, and a 1:1 room is the other person", async () => {
  const nurse = await openDevice("nurse");
  const doctor = await openDevice("doctor");
  const { page } = nurse;
  await signIn(nurse, "nurse1");
  const rows = page.locator("ul.rooms > li.room");
  await rows.first().waitFor();
  // The server's list has arrived (its rows have times), not only the kept copy.
  await page.locator("ul.rooms .room-time").first().waitFor();
  await screen(nurse, "home-before");

  // A room the doctor shares with her that is not on top now.
  const titles = await rows.locator(".room-title").allTextContents();
  const target = SHARED.filter((t) => titles.indexOf(t) > 0).sort(
    (a, b) => titles.indexOf(b) - titles.indexOf(a),
  )[0];
  assert.ok(target, `a shared room below the top: ${titles.join(" | ")}`);
  const row = rows.filter({ has: page.locator(".room-title", { hasText: target }) });
  const unreadBefore = await badge(row);
  const patientsTab = page.locator("#tab-patients");
  const messagesTab = page.locator("#tab-messages");
  const patientsBefore = await badge(patientsTab);
  const messagesBefore = await badge(messagesTab);
  if (patientsBefore > 0) {
    assert.match(await patientsTab.locator(".badge").getAttribute("aria-label"), /^未読 \d+ 件$/);
  }
  // Set on this document: still there afterwards means no reload happened.
  await page.evaluate(() => (window.__sameDocument = true));

  // The doctor posts in that room from his phone: two lines, the first one shown.
  const line = `夕方の訪問で SpO2 94%、呼吸音清明です (${Date.now()})`;
  await signIn(doctor, "doctor1");
  await postInRoom(doctor, target, `${line}\n明日も様子をみてください。`);

  // The nurse's home: the first line, one more unread, on top, and the tab's total.
  await row.locator(".room-last", { hasText: line }).waitFor();
  assert.equal(await row.locator(".room-last").textContent(), line, "the first line only");
  await until(() => badge(row), unreadBefore + 1, "the room's unread badge");
  await until(async () => (await rows.locator(".room-title").first().textContent()), target, "the room on top");
  await until(() => badge(patientsTab), patientsBefore + 1, "the 患者 tab's unread total");
  assert.equal(
    await patientsTab.locator(".badge").getAttribute("aria-label"),
    `未読 ${patientsBefore + 1} 件`,
  );
  assert.equal(await row.locator(".badge").getAttribute("aria-label"), `未読 ${unreadBefore + 1} 件`);
  // One line each on a 390 px phone: the row is no taller than three lines of text.
  const box = await row.boundingBox();
  assert.ok(box.height < 90, `the row stays compact (${box.height} px)`);
  assert.ok(await page.evaluate(() => window.__sameDocument), "no reload");
  await screen(nurse, "home-live-post");

  // The doctor writes in their 1:1 room, which his list titles by her name.
  await doctor.page.goBack();
  await doctor.page.getByRole("tab", { name: /メッセージ/ }).click();
  const doctorsRow = doctor.page.locator("ul.rooms > li.room", {
    has: doctor.page.locator(".room-title", { hasText: NURSE }),
  });
  await doctorsRow.waitFor();
  assert.equal(
    await doctor.page.locator(".room-title", { hasText: ONE_TO_ONE_TITLE }).count(),
    0,
    "the stored title with both names is not shown",
  );
  const message = `明日の往診、10時でお願いします (${Date.now()})`;
  await postInRoom(doctor, NURSE, message);
  assert.equal(await doctor.page.locator("header.topbar h1").textContent(), NURSE, "the room's title");
  await screen(doctor, "one-to-one-room");

  // Her メッセージ tab counts it while she looks at 患者.
  await until(() => badge(messagesTab), messagesBefore + 1, "the メッセージ tab's unread total");
  await screen(nurse, "home-message-badge");
  await messagesTab.click();
  const messageRow = rows.filter({ has: page.locator(".room-title", { hasText: DOCTOR }) });
  await messageRow.locator(".room-last", { hasText: message }).waitFor();
  assert.equal((await messageRow.locator(".room-title").textContent()).trim(), DOCTOR);
  assert.equal(await page.locator(".room-title", { hasText: ONE_TO_ONE_TITLE }).count(), 0);
  assert.ok(await badge(messageRow) >= 1);
  assert.ok(await page.evaluate(() => window.__sameDocument), "no reload");
  await screen(nurse, "home-messages");

  // A reload, offline, shows the same from what the phone kept.
  await nurse.serviceWorkerControls();
  await patientsTab.click();
  await nurse.setOnline(false);
  await page.reload({ waitUntil: "load" });
  await page.getByText(/オフラインです/).waitFor();
  await row.locator(".room-last", { hasText: line }).waitFor();
  assert.equal(await rows.locator(".room-title").first().textContent(), target);
  assert.equal(await badge(row), unreadBefore + 1);
  await screen(nurse, "home-offline-reload");
  await nurse.setOnline(true);
});

test("a room I opened and left follows live on the list, and my own post leads my list", async () => {
  // Opened once, a room stays in sync on the phone's socket: the list then hears of its
  // posts from the room's own updates rather than from the server's news.
  const nurse = await openDevice("nurse-opened");
  const doctor = await openDevice("doctor-opened");
  const { page } = nurse;
  await signIn(nurse, "nurse1");
  const rows = page.locator("ul.rooms > li.room");
  await page.locator("ul.rooms .room-time").first().waitFor();
  const target = SHARED[1];
  await page.getByRole("link", { name: new RegExp(target) }).click();
  await page.getByLabel("新しい投稿を書く").waitFor();
  await page.goBack();
  const row = rows.filter({ has: page.locator(".room-title", { hasText: target }) });
  await row.waitFor();
  await page.evaluate(() => (window.__sameDocument = true));

  const line = `褥瘡は改善傾向、処置継続します (${Date.now()})`;
  await signIn(doctor, "doctor1");
  await postInRoom(doctor, target, line);

  await row.locator(".room-last", { hasText: line }).waitFor();
  // Unread: at least the new post (whether the read marker written as she opened the room
  // had reached the list she came back to is another matter).
  await until(async () => (await badge(row)) >= 1, true, "the opened room's unread badge");
  await until(async () => (await rows.locator(".room-title").first().textContent()), target, "the room on top");
  assert.ok(await page.evaluate(() => window.__sameDocument), "no reload");
  await screen(nurse, "home-opened-room-live");

  // The doctor's own list, back from the room: his post is its newest line, not unread.
  await doctor.page.goBack();
  const doctorsRow = doctor.page.locator("ul.rooms > li.room", {
    has: doctor.page.locator(".room-title", { hasText: target }),
  });
  await doctorsRow.locator(".room-last", { hasText: line }).waitFor();
  assert.equal(await badge(doctorsRow), 0, "my own post is not unread to me");
});
