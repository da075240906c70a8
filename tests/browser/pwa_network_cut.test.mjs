// What the harness's network cut (DevTools network emulation, offline) does, so tests that
// rely on it know: page and service-worker fetches fail, new WebSockets fail, the page sees
// navigator.onLine === false and an `offline` event; and everything works again after.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { openDevice, closeAll, municipality } from "./lib/browser.mjs";

after(closeAll);

test("a network cut reaches the page, its service worker and new WebSockets", async () => {
  const phone = await openDevice("phone");
  const { page, context } = phone;
  await phone.goto(`/${municipality}/`);
  await phone.serviceWorkerControls();
  const worker = context.serviceWorkers()[0];
  assert.ok(worker, "the app's service worker runs");

  // A signed-in WebSocket, open before the cut.
  await page.evaluate(async (m) => {
    const r = await fetch(`/api/${m}/signin`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ login_id: "nurse1", password: "renraku-demo" }),
    });
    if (!r.ok) throw new Error(`sign-in: ${r.status}`);
    window.wentOffline = false;
    addEventListener("offline", () => (window.wentOffline = true));
    await new Promise((resolve, reject) => {
      window.socket = new WebSocket(`${location.origin.replace("http", "ws")}/ws`);
      socket.onopen = resolve;
      socket.onerror = () => reject(new Error("the WebSocket did not open"));
    });
  }, municipality);

  const fetchFrom = (where) =>
    where.evaluate(() =>
      fetch("/api/municipalities/demo", { cache: "no-store" }).then(
        (r) => `status ${r.status}`,
        () => "failed",
      ),
    );
  const newSocket = () =>
    page.evaluate(
      () =>
        new Promise((resolve) => {
          const s = new WebSocket(`${location.origin.replace("http", "ws")}/ws`);
          s.onopen = () => (s.close(), resolve("open"));
          s.onerror = () => resolve("failed");
        }),
    );

  assert.equal(await fetchFrom(page), "status 200");
  assert.equal(await fetchFrom(worker), "status 200");

  await phone.setOnline(false);
  assert.equal(await fetchFrom(page), "failed", "the page's fetch fails offline");
  assert.equal(await fetchFrom(worker), "failed", "the service worker's fetch fails offline");
  assert.equal(await newSocket(), "failed", "a new WebSocket fails offline");
  assert.deepEqual(await page.evaluate(() => [navigator.onLine, window.wentOffline]), [
    false,
    true,
  ]);
  // Chromium's emulation holds an open socket's frames (no close event) and delivers them
  // when the network returns, like a blip TCP survives. Tests that need a dead connection
  // reload the page while offline.
  assert.equal(await page.evaluate(() => socket.readyState), 1);

  await phone.setOnline(true);
  assert.equal(await fetchFrom(page), "status 200");
  assert.equal(await fetchFrom(worker), "status 200");
  assert.equal(await newSocket(), "open");
  assert.equal(await page.evaluate(() => navigator.onLine), true);
});
