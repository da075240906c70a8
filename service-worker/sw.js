// Renraku service worker: keeps the app shell available offline.
//
// - The shell (index.html, app.js, app_bg.wasm, manifest, icons) is precached under a
//   versioned cache and served cache-first; every page of the app (/{municipality}/…) is
//   the same index.html.
// - /api/, /ws and /yjs are never cached and never answered from a cache: they go to the
//   network only.
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

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL.map((url) => new Request(url, { cache: "reload" }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) =>
        Promise.all(
          keys
            .filter((key) => key.startsWith("renraku-shell-") && key !== CACHE)
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

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  // Live data: network only (the browser's default), never stored.
  if (isLive(url.pathname)) return;

  if (request.mode === "navigate") {
    // Every route of the app is the same shell.
    event.respondWith(
      caches.match("/index.html", { cacheName: CACHE }).then((hit) => hit || fetch(request)),
    );
    return;
  }
  if (SHELL.includes(url.pathname)) {
    event.respondWith(
      caches.match(url.pathname, { cacheName: CACHE }).then((hit) => hit || fetch(request)),
    );
  }
});
