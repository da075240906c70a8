// A professional removed from a patient's room stops seeing it on her phone: the open
// timeline empties at once, and nothing of the room stays on the device — not the synced
// copy in IndexedDB, not the kept first screen — so a reload shows none of its posts either.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { openDevice, signIn, closeAll, apiSignIn, api, recordsText, postInRoom } from "./lib/browser.mjs";

after(closeAll);

const PATIENT = "山田 太郎 様";

/** Whether the user's IndexedDB holds the room's document. */
function roomInStore(page, user, room) {
  return page.evaluate(
    ([user, room]) =>
      new Promise((resolve, reject) => {
        const open = indexedDB.open(`renraku-demo-${user}`);
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const db = open.result;
          const get = db.transaction("docs").objectStore("docs").get(`room/${room}`);
          get.onsuccess = () => {
            db.close();
            resolve(get.result !== undefined);
          };
          get.onerror = () => reject(get.error);
        };
      }),
    [user, room],
  );
}

/** The user's kept first screens (all pages), as stored. */
const keptScreens = (page) =>
  page.evaluate(() =>
    Object.entries(localStorage)
      .filter(([k]) => k.startsWith("renraku.kept."))
      .map(([, v]) => v)
      .join(""),
  );

/** Polls `check` until it returns `want` (the app writes its stores a moment after changes). */
async function until(check, want, what) {
  for (let i = 0; i < 100; i++) {
    if ((await check()) === want) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`${what}: still not ${want} after 10 s`);
}

test("a member removed from a room loses it on her device, at once and after a reload", async () => {
  const phone = await openDevice("removed");
  const { page } = phone;
  await signIn(phone, "nurse1");
  const text = `外される前の投稿 (${Date.now()})`;
  await postInRoom(phone, PATIENT, text);

  const room = Number(new URL(page.url()).pathname.split("/").pop());
  const user = await page.evaluate(() => JSON.parse(localStorage.getItem("renraku.me.demo")).user.id);
  // The device keeps the room: in IndexedDB and as the kept first screen.
  await until(() => roomInStore(page, user, room), true, "the room in IndexedDB");
  await until(async () => (await keptScreens(page)).includes(text), true, "the room's kept screen");

  // The municipality's administrator removes her from the room.
  const admin = await apiSignIn("city1");
  await api(admin, `/api/admin/rooms/${room}/members/${user}`, { method: "DELETE" });

  // The open timeline says so and shows none of the room's posts.
  await page.getByRole("alert").getByText("このルームを開けません").waitFor();
  await page.locator("article", { hasText: text }).waitFor({ state: "detached" });
  assert.equal(await page.getByText(PATIENT).count(), 0, "the patient's name is gone too");
  await until(() => roomInStore(page, user, room), false, "the room in IndexedDB");
  assert.ok(!(await keptScreens(page)).includes(text), "the kept first screen of the room is gone");

  // Reopened, the room shows nothing of itself at any moment.
  await page.addInitScript(recordsText, text);
  await page.reload({ waitUntil: "load" });
  await page.getByRole("alert").getByText("このルームを開けません").waitFor();
  assert.equal(await page.evaluate(() => window.__seen), false, "the post never appeared after the reload");
  await phone.screenshot("removed");
});
