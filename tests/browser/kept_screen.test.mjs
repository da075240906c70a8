// The kept first screen: a room the nurse opened shows its posts on the next start before the
// wasm app is running (app/early.js paints the copy the app kept; home and the start page
// likewise), inert, and the live app takes its place. A copy never stands in for an app that does not start, and it is gone
// from the device after sign-out.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { openDevice, signIn, closeAll, recordsText, postInRoom } from "./lib/browser.mjs";

after(closeAll);

const PATIENT = "山田 太郎 様";

// With `test:hold-app` set for the tab, the wasm app never starts: what is on screen then
// comes from early.js alone.
function holdApp() {
  if (sessionStorage.getItem("test:hold-app")) {
    const never = () => new Promise(() => {});
    WebAssembly.instantiateStreaming = never;
    WebAssembly.instantiate = never;
  }
}

test("a room opens on its kept first screen, the live app takes over, sign-out removes it", async () => {
  const phone = await openDevice("kept");
  const { page } = phone;
  await signIn(phone, "nurse1");
  // Home is kept too, once its list has settled.
  await page.waitForFunction(
    () => Object.keys(localStorage).some((k) => k.startsWith("renraku.kept.") && "/demo/home?tab=patients" in JSON.parse(localStorage.getItem(k))),
    null,
    { timeout: 10_000 },
  );
  const text = `残薬の確認をお願いします (${Date.now()})`;
  await postInRoom(phone, PATIENT, text);
  const roomUrl = page.url();
  await page.addInitScript(holdApp);
  await page.addInitScript(recordsText, text);

  // The app keeps the screen a moment after it settles; wait until it has.
  await page.waitForFunction(
    (t) => Object.keys(localStorage).some((k) => k.startsWith("renraku.kept.") && localStorage.getItem(k).includes(t)),
    text,
    { timeout: 10_000 },
  );

  // Without the app: the copy shows the patient and the post, inert, outside the app's root.
  await page.evaluate(() => sessionStorage.setItem("test:hold-app", "1"));
  await page.reload({ waitUntil: "load" });
  const kept = page.locator("#kept-screen");
  await kept.getByText(text).waitFor();
  await kept.getByText(PATIENT).waitFor();
  assert.equal(await kept.evaluate((el) => el.inert), true, "the copy cannot be used as if it were the app");
  assert.equal(await page.locator("#main").getByText(text).count(), 0, "the app has not rendered it");
  await phone.screenshot("kept-first-screen");
  // An app that never starts is not stood in for.
  await kept.waitFor({ state: "detached", timeout: 8_000 });
  // The start page (the installed app's start URL) opens on home's kept copy.
  await page.goto(new URL("/demo/", roomUrl).href, { waitUntil: "load" });
  await kept.getByRole("link", { name: new RegExp(PATIENT) }).waitFor();

  // With the app: it ends up showing the room itself, and the copy is gone.
  await page.evaluate(() => sessionStorage.removeItem("test:hold-app"));
  await page.goto(roomUrl, { waitUntil: "load" });
  await page.locator("#main article", { hasText: text }).waitFor();
  await page.getByLabel("新しい投稿を書く").click();
  assert.equal(await kept.count(), 0);

  // Sign-out takes the copy off the device: opening the room again shows sign-in and the post
  // is never on screen, even with the app held back.
  await page.goto(new URL("../settings", roomUrl).href, { waitUntil: "load" });
  await page.getByRole("button", { name: "サインアウト" }).click();
  await page.getByLabel("ログイン ID").waitFor();
  assert.deepEqual(
    await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith("renraku.kept."))),
    [],
  );
  await page.evaluate(() => sessionStorage.setItem("test:hold-app", "1"));
  await page.goto(roomUrl, { waitUntil: "load" });
  await page.waitForTimeout(500);
  assert.equal(await page.evaluate(() => window.__seen), false, "no patient data after sign-out");
});
