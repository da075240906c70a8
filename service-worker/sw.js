// Renraku service worker: keeps the app shell available offline.
//
// - The shell (index.html, app.js, app_bg.wasm, manifest, icons) is precached under a
//   versioned cache and served cache-first; every page of the app (/{municipality}/…) is
//   the same index.html.
// - The administration screens (/{municipality}/admin…, and the city's and a lender's
//   駐車場 screens, /{municipality}/parking/city… and /parking/lender: admin.html and its own
//   bundle) are not precached: only administrators fetch them, from the network, and they work online
//   only; offline their page says so.
// - /api/, /ws and /yjs are never cached and never answered from a cache: they go to the
//   network only — except map tiles (/api/tiles/{z}/{x}/{y}), which are not personal data.
// - The register's map (要援護者マップ) must open in a disaster with the network down: the map
//   library (MAP, under /map/, not precached: only responders need it) and the tiles of the
//   municipality's area are kept once a responder's app asks (`renraku:keep-map`, with the
//   tile list the server chose within its size budget, `GET /api/tiles/offline`), and are
//   then answered from the cache first.
// - A new version waits (no skipWaiting on install): app/boot.js announces it to the page
//   (`renraku:update-available`) and the user chooses when to reload, so a half-written post
//   is never swapped out from under them; `renrakuApplyUpdate()` sends SKIP_WAITING here.
// `cargo xtask build-app` rewrites SHELL to every file it built (wasm-bindgen's snippets
// included) and BUILD to a hash of them, so a new build installs a new cache and the old
// one is deleted on activation.
const BUILD = "__RENRAKU_BUILD__";
const CACHE = `renraku-shell-${BUILD}`;
const SHELL = [
  "/index.html",
  "/app.js",
  "/app_bg.wasm",
  "/manifest.webmanifest",
  "/icon-192.png",
  "/icon-512.png",
  "/icon-maskable-512.png",
]; // end of SHELL
const MAP = []; // end of MAP
// The files of SHELL only the app bundle uses, not the sign-in screen (app/src/lib.rs): the
// first visit's worker does not download them before anyone has signed in; the app asks for
// them once it runs (`renraku:keep-shell`). Filled in by build-app too.
const APP_ONLY = []; // end of APP_ONLY
// The library follows the build; the tiles do not: a new app build must not throw away the
// tiles a responder kept.
const MAP_CACHE = `renraku-map-${BUILD}`;
const TILES_CACHE = "renraku-tiles";

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      // A first install (no earlier shell kept) comes from a first visit, which is the
      // sign-in page: the app's own files wait until the app runs. An update keeps the whole
      // shell, so the app opens offline right after it.
      const earlier = (await caches.keys()).some((key) => key.startsWith("renraku-shell-") && key !== CACHE);
      const list = earlier ? SHELL : SHELL.filter((path) => !APP_ONLY.includes(path));
      const cache = await caches.open(CACHE);
      // "no-cache": revalidate with the server. Files the page has just loaded answer 304
      // (the server sends ETags), so a first visit does not download the wasm twice.
      await cache.addAll(list.map((url) => new Request(url, { cache: "no-cache" })));
    })(),
  );
});

// Keeps what SHELL has that the cache lacks (the app's own files after a first visit).
// `caches.open` creates a cache that is missing: an old worker still running after its
// successor activated (and deleted the old shell) must not bring that shell back.
async function keepShell() {
  if (!(await caches.has(CACHE))) return;
  const cache = await caches.open(CACHE);
  await Promise.all(
    SHELL.map(async (path) => {
      if (!(await cache.match(path))) await cache.add(new Request(path, { cache: "no-cache" })).catch(() => {});
    }),
  );
}

self.addEventListener("message", (event) => {
  if (event.data && event.data.type === "SKIP_WAITING") self.skipWaiting();
  // The page can ask which build serves it (the update test does).
  if (event.data && event.data.type === "BUILD") event.source?.postMessage({ type: "BUILD", build: BUILD });
  if (event.data && event.data.type === "renraku:keep-shell") event.waitUntil(keepShell());
  // A page that opened while this worker was activating is not controlled by it (its
  // navigation did not pass through a worker, and the claim on activation came before the
  // page existed): it asks, so that its uploads and tiles go through the worker now.
  if (event.data && event.data.type === "renraku:claim") event.waitUntil(self.clients.claim());
  if (event.data && event.data.type === "renraku:keep-map") {
    event.waitUntil(keepMap(event.data.tiles, event.source));
  }
});

// Keeps the map library and the listed tiles (same-origin tile paths only), fetching only
// what the caches lack, a few at a time; tells the page how far it got.
async function keepMap(tiles, client) {
  const map = await caches.open(MAP_CACHE);
  await Promise.all(
    MAP.map(async (path) => {
      if (!(await map.match(path))) await map.add(new Request(path, { cache: "no-cache" })).catch(() => {});
    }),
  );
  const list = (Array.isArray(tiles) ? tiles : []).filter((t) => typeof t === "string" && isTile(t));
  const cache = await caches.open(TILES_CACHE);
  let kept = 0;
  let failed = 0;
  for (let i = 0; i < list.length; i += 6) {
    await Promise.all(
      list.slice(i, i + 6).map(async (path) => {
        if (await cache.match(path)) {
          kept++;
          return;
        }
        try {
          const r = await fetch(path, { credentials: "same-origin" });
          if (r.ok) {
            await cache.put(path, r);
            kept++;
          } else if (r.status === 404) {
            kept++; // a tile the set does not have: nothing to keep
          } else failed++;
        } catch (_) {
          failed++;
        }
      }),
    );
  }
  client?.postMessage({ type: "renraku:map-kept", tiles: kept, failed, of: list.length });
}

function isTile(path) {
  return /^\/api\/tiles\/\d+\/\d+\/\d+$/.test(path);
}

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) =>
        Promise.all(
          keys
            .filter(
              (key) =>
                (key.startsWith("renraku-shell-") && key !== CACHE) ||
                (key.startsWith("renraku-map-") && key !== MAP_CACHE),
            )
            .map((key) => caches.delete(key)),
        ),
      )
      .then(() => self.clients.claim()),
  );
});

function isLive(path) {
  return (
    path.startsWith("/api/") ||
    path === "/ws" ||
    path.startsWith("/ws/") ||
    path.startsWith("/yjs/")
  );
}

// `/`, `/{municipality}/…`: pages of the app. Files (`/icon-192.png`) and
// `/.well-known/…` opened in a tab are not.
function isAppPage(path) {
  const last = path.slice(path.lastIndexOf("/") + 1);
  return !last.includes(".") && !path.startsWith("/.well-known/");
}

// The kept page links the manifest of the page's municipality, as the server's pages do
// (server/src/assets.rs): installing from /demo/… installs デモ市's app (start URL /demo/).
async function forMunicipality(page, path) {
  const slug = path.split("/")[1];
  if (!slug || !/^[a-z0-9][a-z0-9-]{0,62}$/.test(slug)) return page;
  const html = (await page.text()).replace(
    'href="/manifest.webmanifest"',
    `href="/${slug}/manifest.webmanifest"`,
  );
  // The body is new: the stored length and encoding no longer describe it.
  const headers = new Headers(page.headers);
  headers.delete("content-length");
  headers.delete("content-encoding");
  return new Response(html, { status: page.status, statusText: page.statusText, headers });
}

// `/{municipality}/admin…` and the 駐車場's office screens (`parking/city…`, `parking/lender`):
// the admin bundle's page (server/src/assets.rs, the app's `Route::bundle`).
function isAdminPage(path) {
  return /^\/[a-z0-9][a-z0-9-]{0,62}\/(admin|parking\/(city|lender))(\/|$)/.test(path);
}

// What an administrator sees opening the admin screens offline (no scripts: the page is
// not the app, and its links go back to it).
function adminOffline(path) {
  const slug = path.split("/")[1];
  const html = `<!doctype html>
<html lang="ja"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>管理 · Renraku 連絡</title><link rel="stylesheet" href="/app.css"></head>
<body><main class="card" lang="ja">
<h1>管理</h1>
<p role="alert">管理画面はオンラインでのみ使えます。電波のある場所でもう一度開いてください。</p>
<p lang="en">Administration works online only.</p>
<p class="row"><a class="button secondary" href="${path}">再読み込み</a> <a class="button secondary" href="/${slug}/home">ホームへ戻る</a></p>
</main></body></html>`;
  return new Response(html, { status: 503, headers: { "content-type": "text/html; charset=utf-8" } });
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  // Map tiles: the kept copy first, else the network (kept when it answers).
  if (isTile(url.pathname)) {
    event.respondWith(
      caches.open(TILES_CACHE).then(async (cache) => {
        const hit = await cache.match(url.pathname);
        if (hit) return hit;
        const r = await fetch(request);
        if (r.ok) cache.put(url.pathname, r.clone());
        return r;
      }),
    );
    return;
  }
  // Live data: network only (the browser's default), never stored.
  if (isLive(url.pathname)) return;
  if (MAP.includes(url.pathname)) {
    event.respondWith(
      caches.open(MAP_CACHE).then(async (cache) => {
        const hit = await cache.match(url.pathname);
        if (hit) return hit;
        const r = await fetch(request);
        if (r.ok) cache.put(url.pathname, r.clone());
        return r;
      }),
    );
    return;
  }

  if (request.mode === "navigate" && isAdminPage(url.pathname)) {
    event.respondWith(fetch(request).catch(() => adminOffline(url.pathname)));
    return;
  }
  if (request.mode === "navigate" && isAppPage(url.pathname)) {
    // Every route of the app is the same shell.
    event.respondWith(
      caches
        .match("/index.html", { cacheName: CACHE })
        .then((hit) => (hit ? forMunicipality(hit, url.pathname) : fetch(request))),
    );
    return;
  }
  if (SHELL.includes(url.pathname)) {
    event.respondWith(
      caches.match(url.pathname, { cacheName: CACHE }).then(async (hit) => {
        if (hit) return hit;
        const r = await fetch(request);
        // The app's own files, which a first visit did not keep, are kept as the app loads
        // (only into a shell that still exists: see keepShell).
        if (r.ok && APP_ONLY.includes(url.pathname) && (await caches.has(CACHE))) {
          const copy = r.clone();
          caches.open(CACHE).then((cache) => cache.put(url.pathname, copy));
        }
        return r;
      }),
    );
  }
});

// ==== push (engineer "push"): push and notificationclick handlers below this line ====
// The server sends one encrypted JSON payload per device (server/src/db/push.rs
// `PushPayload`): { title, body, tag, url, room, kind }. Unless the user opted into details,
// title and body say only which kind of room has 「新しい投稿があります」 — nothing about
// the patient. One tag per room: a burst of posts replaces the notification instead of
// piling up; `renotify` still alerts for the newer one.
function pushPayload(event) {
  if (!event.data) return null;
  try {
    const data = event.data.json();
    return data && typeof data === "object" ? data : null;
  } catch (_) {
    return null;
  }
}

// Only our own pages: a payload never navigates anywhere else.
function roomUrl(data) {
  try {
    const url = new URL(typeof data.url === "string" ? data.url : "/", self.location.origin);
    return url.origin === self.location.origin ? url.href : self.location.origin + "/";
  } catch (_) {
    return self.location.origin + "/";
  }
}

self.addEventListener("push", (event) => {
  const data = pushPayload(event) || {};
  const title = typeof data.title === "string" && data.title ? data.title : "Renraku";
  const body = typeof data.body === "string" && data.body ? data.body : "新しい投稿があります";
  const options = {
    body,
    icon: "/icon-192.png",
    badge: "/icon-192.png",
    tag: typeof data.tag === "string" && data.tag ? data.tag : "renraku",
    renotify: true,
    lang: "ja",
    data: { url: roomUrl(data), room: data.room ?? null, kind: data.kind ?? null },
  };
  event.waitUntil(self.registration.showNotification(title, options));
});

// Take an open Renraku window to the room and focus it, or open one on the room.
async function openRoom(url) {
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const ours = windows.filter((c) => new URL(c.url).origin === self.location.origin);
  const exact = ours.find((c) => c.url === url);
  let target = exact || ours.find((c) => c.focused) || ours[0];
  if (!target) return self.clients.openWindow(url);
  if (!exact) {
    try {
      // navigate() works on windows this worker controls…
      target = (await target.navigate(url)) || target;
    } catch (_) {
      // …others are asked to route themselves.
      target.postMessage({ type: "renraku:open", url });
    }
  }
  try {
    target = await target.focus();
  } catch (_) {
    // Focusing needs the user activation of a real click; the window is on the room anyway.
  }
  return target;
}

// What a click on a notification does (a named function: the browser test calls it with a
// shown notification, since headless Chromium has no way to click one).
function clickNotification(notification) {
  notification.close();
  const url = (notification.data && notification.data.url) || self.location.origin + "/";
  return openRoom(url);
}

self.addEventListener("notificationclick", (event) => {
  event.waitUntil(clickNotification(event.notification));
});
// ==== end of push ====
