// The app lock: after the configured idle time without a touch or key (the runner sets it
// to a few seconds), patient data leaves the DOM behind ロック中; the password brings it
// back. A wrong password keeps it locked, and so does a reload.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { openDevice, signIn, closeAll, demoPassword, recordsText, postInRoom } from "./lib/browser.mjs";

after(closeAll);

const PATIENT = "山田 太郎 様";

test("an idle app hides the timeline until the password is given again", async () => {
  const phone = await openDevice("lock");
  const { page } = phone;
  await signIn(phone, "nurse1");
  const text = `ロックの確認: 血圧 128/80 (${Date.now()})`;
  const post = await postInRoom(phone, PATIENT, text);

  // Hands off: the lock comes, and the timeline is gone from the DOM, not just hidden.
  await page.getByRole("heading", { name: "ロック中" }).waitFor({ timeout: 30_000 });
  await phone.screenshot("locked");
  assert.equal(await page.getByText(text).count(), 0, "the post text left the DOM");
  assert.equal(await page.getByText(PATIENT).count(), 0, "the patient's name left the DOM");
  assert.ok(!(await page.content()).includes(text), "nor is it anywhere in the page");

  // A reload is no way around the lock: the app starts locked, and the post is not in the
  // page at any moment of the start (the kept first screen is not shown either).
  await page.addInitScript(recordsText, text);
  await page.reload({ waitUntil: "load" });
  await page.getByRole("heading", { name: "ロック中" }).waitFor();
  assert.equal(await page.evaluate(() => window.__seen), false, "no patient data while locked, reload or not");

  await page.getByLabel("パスワード").fill("not-the-password");
  await page.getByRole("button", { name: "ロック解除" }).click();
  await page.getByRole("alert").getByText("パスワードが違います。").waitFor();
  assert.equal(await page.getByText(text).count(), 0);

  await page.getByLabel("パスワード").fill(demoPassword);
  await page.getByRole("button", { name: "ロック解除" }).click();
  await post.waitFor();
  await phone.screenshot("unlocked");
});
