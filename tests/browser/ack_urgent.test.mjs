// Acknowledgement requests (要確認) and urgent posts (至急) between two professionals on
// their phones (390×844): the nurse posts a 至急 request to the doctor with a deadline; the
// doctor finds it at the top of home's 「確認待ち」 and at the top of the room, taps
// 確認しました, and the nurse's open timeline shows the doctor's acknowledgement with its
// time. The 確認待ち list also shows offline, from what the phone kept. Screenshots of each
// step (the phone's screen) are kept as artifacts.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { openDevice, signIn, closeAll, artifactsDir } from "./lib/browser.mjs";

after(closeAll);

const PATIENT = "山田 太郎 様";
const DOCTOR = "南 健一";

/** Opens the composer if it is behind a button, and returns the text field. */
async function composer(page) {
  const open = page.getByRole("button", { name: /新しい投稿/ });
  if (await open.count()) await open.click();
  return page.getByLabel("新しい投稿を書く");
}

/** What the phone's screen shows (390×844, not the whole page): `<artifacts>/screen-…png`. */
async function screen(device, label) {
  await device.page.screenshot({ path: path.join(artifactsDir, `screen-${device.name}-${label}.png`) });
}

const article = (device, text) => device.page.locator("article", { hasText: text });

test("a 至急 request to a named colleague, acknowledged with one tap", async () => {
  const nurse = await openDevice("nurse");
  const doctor = await openDevice("doctor");
  await signIn(nurse, "nurse1");
  await nurse.page.getByRole("link", { name: new RegExp(PATIENT) }).click();

  // The nurse asks the doctor, urgently, by tomorrow 9:00.
  const text = `至急: 夜間の SpO2 が 88% まで低下。明朝の往診可否をご確認ください。(${Date.now()})`;
  const field = await composer(nurse.page);
  await field.fill(text);
  await nurse.page.getByText("至急", { exact: true }).click();
  await nurse.page.getByText("メンバーを指定").click();
  await nurse.page.locator(".ack-members").getByText(DOCTOR).click();
  await nurse.page.getByRole("button", { name: "明日 9:00" }).click();
  await nurse.page.getByText(/までに確認してください/).waitFor();
  await nurse.page.locator(".ack-picker").scrollIntoViewIfNeeded();
  await screen(nurse, "composer-urgent-request");
  await nurse.page.getByRole("button", { name: "投稿する" }).click();
  const asked = article(nurse, text);
  await asked.getByText("保存済み").waitFor();
  await asked.getByText("確認済み 0/1").waitFor();
  await asked.getByText(`未確認: ${DOCTOR}`).waitFor();
  // A routine post after it: newer, yet below the open urgent one.
  const routine = `定期訪問の記録: 変化なし。(${Date.now()})`;
  await (await composer(nurse.page)).fill(routine);
  await nurse.page.getByRole("button", { name: "投稿する" }).click();
  await article(nurse, routine).getByText("保存済み").waitFor();
  await asked.scrollIntoViewIfNeeded();
  await screen(nurse, "author-waiting");

  // The doctor: home's 確認待ち shows it first, marked 至急 with its deadline.
  await signIn(doctor, "doctor1");
  const inbox = doctor.page.getByRole("region", { name: /確認待ち/ });
  const first = inbox.locator("li.ack-item").first();
  await first.getByText(text.slice(0, 20)).waitFor();
  await first.locator(".urgent-badge", { hasText: "至急" }).waitFor();
  await first.locator(".ack-due", { hasText: /期限/ }).waitFor();
  const box = await inbox.boundingBox();
  assert.ok(box && box.y < 200, `確認待ち is at the top of home (y = ${box?.y})`);
  await screen(doctor, "home-waiting");

  // Offline, from what the phone kept: the list is still there after a reload.
  await doctor.serviceWorkerControls();
  await doctor.setOnline(false);
  await doctor.page.reload({ waitUntil: "load" });
  await doctor.page.getByText(/オフラインです/).waitFor();
  await inbox.locator("li.ack-item", { hasText: text.slice(0, 20) }).waitFor();
  await screen(doctor, "home-waiting-offline");
  await doctor.setOnline(true);
  await doctor.page.getByText(/オフラインです/).waitFor({ state: "detached" });

  // In the room the urgent thread comes first, above the newer routine post.
  await first.getByRole("link").click();
  const threads = doctor.page.locator("main.timeline > section.thread");
  await threads.first().getByText(text).waitFor();
  await threads.nth(1).getByText(routine).waitFor();
  const urgent = article(doctor, text);
  assert.match(await urgent.getAttribute("class"), /urgent/);
  // Above the team's pinned posts too.
  const pinned = doctor.page.locator("section.pinned");
  if (await pinned.count()) {
    const [u, p] = [await urgent.boundingBox(), await pinned.boundingBox()];
    assert.ok(u.y < p.y, `the urgent post (y = ${u.y}) is above the pinned ones (y = ${p.y})`);
  }
  await screen(doctor, "room-urgent-on-top");
  const button = urgent.getByRole("button", { name: "確認しました" });
  const size = await button.boundingBox();
  assert.ok(size.height >= 44, `the button is a 44 px target (${size.height})`);
  await button.click();
  await urgent.getByText(/✓ 確認しました（\d{1,2}:\d{2}）/).waitFor();
  await urgent.getByText("確認済み 1/1").waitFor();
  await urgent.scrollIntoViewIfNeeded();
  await screen(doctor, "doctor-acknowledged");

  // The nurse's open timeline shows who acknowledged, and when, without a reload.
  await asked.getByText("確認済み 1/1").waitFor();
  const line = asked.locator(".ack-yes", { hasText: DOCTOR });
  await line.waitFor();
  assert.match(await line.textContent(), /\d{1,2}:\d{2}/);
  assert.equal(await asked.getByText(/未確認:/).count(), 0);
  await asked.scrollIntoViewIfNeeded();
  await screen(nurse, "author-sees-acknowledgement");

  // Acknowledged: no longer waiting on the doctor's home, and no longer held on top.
  await doctor.page.goBack();
  await doctor.page.getByRole("link", { name: new RegExp(PATIENT) }).waitFor();
  assert.equal(await doctor.page.locator("li.ack-item", { hasText: text.slice(0, 20) }).count(), 0);
  await screen(doctor, "home-after");

  // The setting that lets urgent posts through quiet hours: off unless turned on.
  await doctor.page.getByRole("button", { name: "設定" }).click();
  const urgentSetting = doctor.page.getByRole("switch", { name: /至急の投稿は通知しない時間帯にも通知する/ });
  await urgentSetting.waitFor();
  assert.equal(await urgentSetting.isChecked(), false);
  await doctor.page.getByText(/通知しない時間帯でも届きます/).scrollIntoViewIfNeeded();
  await screen(doctor, "settings-urgent");
});
