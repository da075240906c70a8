// The app shell opens offline from the service worker after one online visit: a reload and
// a deep link with the network cut show the app (its wasm running), not Chromium's error
// page; live data (/api, /ws, /yjs) is never answered from, or stored in, a cache.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { openDevice, closeAll, municipality } from "./lib/browser.mjs";

after(closeAll);

/** Elements the wasm app rendered into #main (the page's <noscript> does not count). */
const rendered = (page) =>
  page.evaluate(
    () => [...document.querySelectorAll("#main *")].filter((e) => !e.closest("noscript")).length,
  );

test("the shell loads offline after one online visit", async () => {
  const phone = await openDevice("phone");
  const { page } = phone;
  const online = await phone.goto(`/${municipality}/`);
  assert.equal(online.status(), 200);
  await phone.serviceWorkerControls();
  await page.waitForFunction(
    () => [...document.querySelectorAll("#main *")].some((e) => !e.closest("noscript")),
  );
  await phone.screenshot("online");

  await phone.setOnline(false);
  const failedShellFiles = [];
  page.on("requestfailed", (r) => {
    const path = new URL(r.url()).pathname;
    // The manifest is only read to install, which needs the network anyway.
    if (!/^\/(api|ws|yjs)(\/|$)/.test(path) && !path.endsWith("manifest.webmanifest")) {
      failedShellFiles.push(path);
    }
  });

  for (const path of [`/${municipality}/`, `/${municipality}/rooms/1`]) {
    const response = await page.goto(phone.url(path), { waitUntil: "load" });
    assert.ok(response, `${path}: a response`);
    assert.ok(response.fromServiceWorker(), `${path}: answered by the service worker`);
    assert.equal(response.status(), 200, path);
    assert.ok(page.url().startsWith("http"), `${path}: not Chromium's error page`);
    assert.equal(await page.title(), "Renraku 連絡");
    await page.waitForFunction(
      () => [...document.querySelectorAll("#main *")].some((e) => !e.closest("noscript")),
    );
    assert.ok((await rendered(page)) > 0, `${path}: the app rendered`);
  }
  await phone.screenshot("offline-reload");
  assert.deepEqual(failedShellFiles, [], "every shell file came from the service worker");

  // Live data stays live: an offline API call fails rather than answering stale data…
  const api = await page.evaluate(() =>
    fetch("/api/municipalities/demo").then(
      (r) => `status ${r.status}`,
      () => "failed",
    ),
  );
  assert.equal(api, "failed");
  // …and no cache of this origin holds any.
  const cached = await page.evaluate(async () => {
    const urls = [];
    for (const name of await caches.keys()) {
      for (const request of await (await caches.open(name)).keys()) urls.push(request.url);
    }
    return urls.map((u) => new URL(u).pathname);
  });
  // Nobody signed in on this device: the shell kept is the sign-in screen's (the app's own
  // files are kept once someone signs in and the app runs: admin_bundle.test.mjs).
  assert.ok(cached.includes("/index.html") && cached.includes("/signin_bg.wasm"), cached.join(" "));
  assert.deepEqual(
    cached.filter((p) => /^\/(api|ws|yjs)(\/|$)/.test(p)),
    [],
    "no live data in a cache",
  );
  await phone.setOnline(true);
});
