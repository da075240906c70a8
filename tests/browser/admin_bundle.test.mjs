// The administration screens are a bundle of their own (issue 14 §7): a nurse who signs in,
// opens home, a room and settings never downloads them and her service worker does not keep
// them; an administrator who opens 管理 from settings fetches them then, moves between
// sections without another page load, and comes back to settings; opened offline, the admin
// page says it works online only instead of showing Chromium's error page.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { openDevice, signIn, closeAll, municipality } from "./lib/browser.mjs";

after(closeAll);

/** Every same-origin path the page requested, from now on. */
function recordRequests(page) {
  const paths = [];
  page.on("request", (r) => paths.push(new URL(r.url()).pathname));
  return paths;
}

/** The paths in the service worker's caches. */
const cachedPaths = (page) =>
  page.evaluate(async () => {
    const out = [];
    for (const name of await caches.keys()) {
      for (const request of await (await caches.open(name)).keys()) {
        out.push(new URL(request.url).pathname);
      }
    }
    return out;
  });

test("a nurse never downloads the admin screens", async () => {
  const nurse = await openDevice("nurse");
  const requested = recordRequests(nurse.page);
  await signIn(nurse, "nurse1");
  await nurse.serviceWorkerControls();
  const room = nurse.page.getByRole("link", { name: /山田 太郎/ });
  await room.click();
  await nurse.page.getByRole("heading", { name: /山田 太郎/ }).waitFor();
  await nurse.page.goto(nurse.url(`/${municipality}/settings`), { waitUntil: "load" });
  await nurse.page.getByRole("heading", { name: "設定" }).waitFor();

  assert.ok(requested.includes("/app_bg.wasm"), "the app's wasm was loaded");
  assert.deepEqual(requested.filter((p) => p.startsWith("/admin")), [], "no admin file requested");
  const cached = await cachedPaths(nurse.page);
  assert.ok(cached.includes("/app_bg.wasm"), "the app is precached");
  assert.deepEqual(cached.filter((p) => p.startsWith("/admin")), [], "no admin file precached");
  assert.equal(
    await nurse.page.getByRole("link", { name: "管理画面を開く" }).count(),
    0,
    "settings offer no administration to a nurse",
  );
});

test("an administrator loads the admin bundle when she opens 管理", async () => {
  const admin = await openDevice("admin");
  const requested = recordRequests(admin.page);
  await signIn(admin, "city1");
  await admin.serviceWorkerControls();
  assert.deepEqual(requested.filter((p) => p.startsWith("/admin")), [], "not before she asks");

  await admin.page.getByRole("button", { name: "設定" }).click();
  await admin.page.getByRole("link", { name: "管理画面を開く" }).click();
  await admin.page.getByRole("heading", { name: "管理", exact: true }).waitFor();
  assert.equal(new URL(admin.page.url()).pathname, `/${municipality}/admin`);
  assert.ok(requested.includes("/admin_bg.wasm"), "the admin wasm was fetched");
  assert.equal(await admin.page.title(), "管理 · Renraku 連絡");

  // Sections are moves inside the admin page: no further document load.
  let documents = 0;
  admin.page.on("request", (r) => {
    if (r.resourceType() === "document") documents += 1;
  });
  await admin.page.getByRole("link", { name: /^アカウント/ }).click();
  await admin.page.getByRole("heading", { name: "アカウント", exact: true }).waitFor();
  const strip = admin.page.getByRole("navigation", { name: "管理メニュー" });
  await strip.getByRole("link", { name: "監査ログ", exact: true }).click();
  await admin.page.getByRole("heading", { name: "監査ログ", exact: true }).waitFor();
  assert.equal(documents, 0, "no page load between sections");
  await admin.screenshot("admin-audit");

  // Back, entry by entry, leads out of administration to the app's settings (a screen may
  // add entries of its own, e.g. a filter, so count no fixed number of steps).
  const settings = admin.page.getByRole("heading", { name: "設定", exact: true });
  for (let i = 0; i < 8 && new URL(admin.page.url()).pathname.includes("/admin"); i++) {
    await admin.page.goBack();
  }
  await settings.waitFor();
  assert.equal(new URL(admin.page.url()).pathname, `/${municipality}/settings`);
  await admin.page.getByRole("link", { name: "管理画面を開く" }).waitFor();

  // The admin files never entered the service worker's cache.
  const cached = await cachedPaths(admin.page);
  assert.deepEqual(cached.filter((p) => p.startsWith("/admin")), [], "no admin file precached");

  // A deep link into a section opens it directly.
  await admin.goto(`/${municipality}/admin/statistics`);
  await admin.page.getByRole("heading", { name: "利用統計", exact: true }).waitFor();

  // Offline, the admin page says it needs the network; the app itself still opens.
  await admin.setOnline(false);
  const offline = await admin.page.goto(admin.url(`/${municipality}/admin/users`), {
    waitUntil: "load",
  });
  assert.ok(offline.fromServiceWorker(), "answered by the service worker");
  await admin.page.getByText("管理画面はオンラインでのみ使えます").waitFor();
  await admin.screenshot("admin-offline");
  await admin.page.getByRole("link", { name: "ホームへ戻る" }).click();
  await admin.page.waitForURL(/\/home/);
  await admin.page.getByRole("button", { name: "設定" }).waitFor();
});
