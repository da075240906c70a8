// Installability: Chromium finds nothing missing for installing the app from /demo/, and the
// manifest it uses is デモ市's (start URL /demo/, Japanese short name, icons incl. maskable).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { openDevice, closeAll, municipality, baseUrl } from "./lib/browser.mjs";

after(closeAll);

/** Width and height from a PNG's IHDR chunk. */
function pngSize(bytes) {
  const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  assert.deepEqual([...bytes.subarray(0, 8)], signature, "a PNG file");
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  return `${view.getUint32(16)}x${view.getUint32(20)}`;
}

test("Chromium reports no installability errors, with the municipality's manifest", async () => {
  const phone = await openDevice("phone");
  await phone.goto(`/${municipality}/`);
  await phone.serviceWorkerControls();
  const cdp = await phone.cdp();

  const { url, errors, data } = await cdp.send("Page.getAppManifest");
  assert.equal(url, `${baseUrl}/${municipality}/manifest.webmanifest`);
  assert.deepEqual(errors, [], "the manifest parses without errors");
  const manifest = JSON.parse(data);
  assert.equal(new URL(manifest.start_url, url).href, `${baseUrl}/${municipality}/`);
  assert.equal(manifest.display, "standalone");
  assert.match(manifest.short_name, /[\u3040-\u30ff\u4e00-\u9fff]/, "a Japanese short name");
  assert.ok(manifest.short_name.length <= 12, "short enough for a home screen");
  assert.match(manifest.name, /デモ市/);
  assert.match(manifest.theme_color, /^#[0-9a-f]{6}$/i);
  assert.equal(manifest.lang, "ja");

  // Each icon exists, is a PNG of its declared size; 192, 512 and a maskable one.
  const icons = manifest.icons.map((i) => ({ ...i, purpose: i.purpose ?? "any" }));
  for (const icon of icons) {
    const response = await fetch(new URL(icon.src, url));
    assert.equal(response.status, 200, icon.src);
    assert.equal(response.headers.get("content-type"), "image/png", icon.src);
    assert.equal(pngSize(new Uint8Array(await response.arrayBuffer())), icon.sizes, icon.src);
  }
  const has = (sizes, purpose) => icons.some((i) => i.sizes === sizes && i.purpose.includes(purpose));
  assert.ok(has("192x192", "any") && has("512x512", "any"), "192 and 512 px icons");
  assert.ok(has("512x512", "maskable"), "a maskable icon");

  const { installabilityErrors } = await cdp.send("Page.getInstallabilityErrors");
  assert.deepEqual(installabilityErrors, []);
  await phone.screenshot("installable");

  // The page the service worker keeps links the same manifest when it serves a page of the
  // municipality (here a room's address, opened from the home screen or a notification).
  const fromWorker = new Promise((resolve) =>
    phone.page.once("response", (r) => resolve(r.fromServiceWorker())),
  );
  await phone.goto(`/${municipality}/rooms/1`);
  assert.equal(await fromWorker, true, "the page came from the service worker");
  const again = await cdp.send("Page.getAppManifest");
  assert.equal(again.url, `${baseUrl}/${municipality}/manifest.webmanifest`);
  assert.deepEqual((await cdp.send("Page.getInstallabilityErrors")).installabilityErrors, []);
});

test("an unknown municipality has no manifest", async () => {
  const response = await fetch(`${baseUrl}/no-such-town/manifest.webmanifest`);
  assert.equal(response.status, 404);
});
