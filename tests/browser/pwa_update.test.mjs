// The update flow: a new build is deployed while the app is open; its service worker installs
// and waits, the page hears `renraku:update-available`, a reload alone keeps the old version,
// and `renrakuApplyUpdate()` reloads into the new one (whose old cache is gone).
//
// The server serves a copy of app/dist (RENRAKU_APP_COPY, see tests/tests/it/browser.rs); this
// test "deploys" by changing that copy as a new `cargo xtask build-app` would: a new BUILD
// stamp in sw.js and a changed index.html.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { openDevice, closeAll, municipality } from "./lib/browser.mjs";

after(closeAll);

const appCopy = process.env.RENRAKU_APP_COPY;

/** The BUILD of the service worker controlling the page. */
const controllerBuild = (page) =>
  page.evaluate(
    () =>
      new Promise((resolve) => {
        navigator.serviceWorker.addEventListener("message", (e) => resolve(e.data.build), {
          once: true,
        });
        navigator.serviceWorker.controller.postMessage({ type: "BUILD" });
      }),
  );

const version = (page) =>
  page.evaluate(() => document.querySelector('meta[name="renraku-test-deploy"]')?.content ?? "1");

test("a new version waits, is announced, and applies on request", async () => {
  assert.ok(appCopy, "RENRAKU_APP_COPY is set by the runner");
  const phone = await openDevice("phone");
  const { page } = phone;
  await phone.goto(`/${municipality}/`);
  await phone.serviceWorkerControls();
  const oldBuild = await controllerBuild(page);
  assert.match(oldBuild, /^[0-9a-f]{16}$/, "xtask stamped the build");
  assert.equal(await page.evaluate(() => window.renrakuUpdateAvailable), false);
  assert.equal(await version(page), "1");

  // Deploy: a new stamp, and a page that says which deployment it is.
  const newBuild = [...oldBuild].reverse().join("");
  const sw = path.join(appCopy, "sw.js");
  writeFileSync(sw, readFileSync(sw, "utf8").replaceAll(oldBuild, newBuild));
  const index = path.join(appCopy, "index.html");
  writeFileSync(
    index,
    readFileSync(index, "utf8").replace(
      "<head>",
      '<head>\n  <meta name="renraku-test-deploy" content="2">',
    ),
  );

  // The app looks for updates when it comes back to the foreground; ask directly here.
  await page.evaluate(() => {
    window.heardUpdate = 0;
    addEventListener("renraku:update-available", () => (window.heardUpdate += 1));
    return navigator.serviceWorker.getRegistration("/").then((r) => r.update());
  });
  await page.waitForFunction(() => window.renrakuUpdateAvailable === true);
  assert.equal(await page.evaluate(() => window.heardUpdate), 1, "announced once");
  assert.equal(
    await page.evaluate(() => navigator.serviceWorker.getRegistration("/").then((r) => !!r.waiting)),
    true,
    "the new worker waits",
  );
  assert.equal(await controllerBuild(page), oldBuild, "the old version still runs");

  // A plain reload keeps the old version (the new one waits for the user) and says so again.
  await page.reload({ waitUntil: "load" });
  assert.equal(await controllerBuild(page), oldBuild);
  assert.equal(await version(page), "1");
  await page.waitForFunction(() => window.renrakuUpdateAvailable === true);
  await phone.screenshot("update-waiting");

  // The banner's button: the page reloads into the new version.
  const reloaded = page.waitForNavigation({ waitUntil: "load" });
  assert.equal(await page.evaluate(() => window.renrakuApplyUpdate()), true);
  await reloaded;
  assert.equal(await controllerBuild(page), newBuild);
  assert.equal(await version(page), "2", "the new index.html");
  assert.equal(await page.evaluate(() => window.renrakuUpdateAvailable), false);
  const cacheNames = await page.evaluate(() => caches.keys());
  assert.deepEqual(cacheNames, [`renraku-shell-${newBuild}`], "the old shell cache is gone");
  await phone.screenshot("updated");
});
