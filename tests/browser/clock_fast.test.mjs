// A nurse's phone whose clock runs an hour fast: the server refuses posts dated more than
// five minutes ahead of its clock, so the app dates what it writes by the server's clock
// (measured from the Date header of its API answers, kept for an offline start). Her post is
// saved, reaches the doctor, and both see the time it really is; so does a post written
// offline right after a reload, before any answer could measure the clock again.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { openDevice, signIn, closeAll } from "./lib/browser.mjs";

after(closeAll);

const PATIENT = "山田 太郎 様";
const HOUR = 3_600_000;

/** From the start of every document, the page's clock reads `shift` ms ahead. */
function fastClock(shift) {
  const RealDate = Date;
  class FastDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(RealDate.now() + shift);
      else super(...args);
    }
    static now() {
      return RealDate.now() + shift;
    }
  }
  globalThis.Date = FastDate;
}

async function openRoom(device) {
  await device.page.getByRole("link", { name: new RegExp(PATIENT) }).click();
  await device.page.getByLabel("新しい投稿を書く").waitFor();
}

async function post(device, text) {
  const { page } = device;
  await page.getByLabel("新しい投稿を書く").fill(text);
  await page.getByRole("button", { name: "投稿する" }).click();
}

const article = (device, text) => device.page.locator("article", { hasText: text });

/** "H:MM" of `ms` as the app shows it on a phone in Japan (JST, UTC+9, no summer time). */
const hm = (ms) => {
  const d = new Date(ms + 9 * HOUR);
  return `${d.getUTCHours()}:${String(d.getUTCMinutes()).padStart(2, "0")}`;
};

/** Asserts the article shows the true time (within the minute around now), not the phone's. */
async function showsTrueTime(device, text) {
  const shown = await article(device, text).locator(".time").first().textContent();
  const now = Date.now();
  const truths = [now - 60_000, now, now + 60_000].map(hm);
  assert.ok(truths.includes(shown.trim()), `${device.name} shows ${shown}, not ${truths}`);
  assert.notEqual(shown.trim(), hm(now + HOUR));
}

test("a phone an hour fast posts, and everyone sees the true time", async () => {
  const nurse = await openDevice("nurse-fast-clock");
  await nurse.context.addInitScript(fastClock, HOUR);
  const doctor = await openDevice("doctor-true-clock");
  await signIn(nurse, "nurse1");
  await signIn(doctor, "doctor1");
  assert.ok((await nurse.page.evaluate(() => Date.now())) - Date.now() > HOUR - 60_000);
  await nurse.serviceWorkerControls();
  await openRoom(nurse);
  await openRoom(doctor);

  const text = `時計が 1 時間進んだ端末から: 訪問終了。(${Date.now()})`;
  await post(nurse, text);
  await article(nurse, text).getByText("保存済み").waitFor();
  await article(doctor, text).waitFor();
  await showsTrueTime(nurse, text);
  await showsTrueTime(doctor, text);

  // Offline start: reloaded with no network, the app dates by the offset it kept.
  await nurse.setOnline(false);
  await nurse.page.reload({ waitUntil: "load" });
  await nurse.page.getByText(/オフラインです/).waitFor();
  const offline = `電波のない場所から、時計が進んだまま: 変化なし。(${Date.now()})`;
  await post(nurse, offline);
  await article(nurse, offline).getByText("送信待ち").waitFor();
  await nurse.setOnline(true);
  await article(nurse, offline).getByText("保存済み").waitFor();
  await article(doctor, offline).waitFor();
  await showsTrueTime(doctor, offline);
});
