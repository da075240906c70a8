// What the page does first, while it is still being parsed — a plain, parser-blocking script
// on purpose: it runs before the first paint, with no module graph to load first.
// - The kept first screen (see app/src/ui/kept_screen.rs): the copy of what this page last
//   showed goes on screen at once, so a phone opening the app sees its room instead of a
//   blank page while the wasm app loads. The copy is inert (the app is not running yet); the
//   app removes it when its own screen is ready.
// - The user's IndexedDB begins to open (see `openStoreEarly`).
// It reads only local storage.
(() => {
  // Which wasm bundle the page starts (app/src/lib.rs): the sign-in screen alone when this
  // device remembers nobody for the municipality (a first visit downloads only that), the
  // app otherwise. Its modules and wasm begin to download now; app/boot.js starts it.
  // Each bundle's script and the modules it imports, by name:
  const BUNDLES = {}; // filled in by build-app
  let bundle = "app";
  try {
    const slug = location.pathname.split("/")[1];
    if (slug && /^[a-z0-9][a-z0-9-]*$/.test(slug) && !localStorage.getItem(`renraku.me.${slug}`)) {
      bundle = "signin";
    }
  } catch (e) {
    // No local storage (some private modes): the app, which asks the server who is signed in.
  }
  window.renrakuBundle = bundle;
  const preload = (rel, href) => {
    const link = document.createElement("link");
    link.rel = rel;
    link.href = href;
    if (rel === "preload") {
      link.as = "fetch";
      link.type = "application/wasm";
      link.crossOrigin = "anonymous";
    }
    document.head.append(link);
  };
  for (const m of BUNDLES[bundle] || [`/${bundle}.js`]) preload("modulepreload", m);
  preload("preload", `/${bundle}_bg.wasm`);
})();

(() => {
  try {
    // The text-size setting (app/src/text_size.rs), before anything is painted.
    if (localStorage.getItem("renraku.textSize") === "large") document.documentElement.classList.add("text-large");
  } catch (e) {
    // No local storage (some private modes): standard size.
  }
  try {
    const slug = location.pathname.split("/")[1];
    if (!slug || !/^[a-z0-9][a-z0-9-]*$/.test(slug)) return;
    // Only for the user this device remembers as signed in (ui/session.rs)…
    const me = JSON.parse(localStorage.getItem(`renraku.me.${slug}`) || "null");
    const user = me && me.user && me.user.id;
    if (!user) return;
    openStoreEarly(`renraku-${slug}-${user}`);
    // …and never past the app lock (ui/lock.rs keeps these two).
    if (localStorage.getItem(`renraku.locked.${user}`)) return;
    const lockAfterMs = (Number(me.lock_after_secs) || 0) * 1000;
    const lastActive = Number(localStorage.getItem(`renraku.active.${user}`));
    if (lockAfterMs > 0 && lastActive > 0 && Date.now() - lastActive >= lockAfterMs) return;

    const kept = JSON.parse(localStorage.getItem(`renraku.kept.${user}`) || "{}");
    // The municipality's start page opens home for a signed-in user.
    const page = location.pathname === `/${slug}/` ? `/${slug}/home?tab=patients` : location.pathname + location.search;
    const copy = kept[page];
    const main = document.getElementById("main");
    if (!copy || typeof copy.html !== "string" || !main) return;

    const screen = document.createElement("div");
    screen.id = "kept-screen";
    screen.inert = true;
    screen.setAttribute("aria-busy", "true");
    screen.innerHTML = copy.html;
    main.before(screen);
    performance.mark("renraku:kept-screen");
    // If the app never takes over (an error, an unexpected screen), do not stand in for it.
    setTimeout(() => screen.remove(), 5000);
  } catch (e) {
    console.warn("kept screen not shown", e);
  }

  // Opening IndexedDB takes a phone tens of milliseconds: begin now, while the wasm app loads,
  // and hand the connection over (`store.rs`, `Store::open`). Only an existing database at
  // its current version is opened: creating or upgrading one is the app's job, so an upgrade
  // is aborted here (which leaves a new database uncreated) and the app opens it itself.
  function openStoreEarly(name) {
    if (!window.indexedDB) return;
    window.renrakuEarlyStore = new Promise((resolve) => {
      const request = indexedDB.open(name);
      request.onupgradeneeded = () => request.transaction.abort();
      request.onsuccess = () => {
        const db = request.result;
        // A sign-out deletes the database: never be the connection that blocks it.
        db.onversionchange = () => db.close();
        resolve(db);
      };
      request.onerror = () => resolve(null);
      request.onblocked = () => resolve(null);
    });
  }
})();
