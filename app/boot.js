// Starts the wasm app and registers the service worker with the update flow (app/early.js
// has already done what must come before the first paint). Absolute paths: the page is served at
// /{municipality}/… and these must resolve from any route.
// The bundle app/early.js picked: the app, or the sign-in screen of a device that remembers
// nobody.
const bundle = window.renrakuBundle === "signin" ? "signin" : "app";
const { default: init } = await import(`/${bundle}.js`);

// The update flow. A new build's service worker installs in the background and waits; the
// page hears `renraku:update-available` (and `window.renrakuUpdateAvailable` turns true, for
// an app that starts listening later) and shows a banner whose button calls
// `window.renrakuApplyUpdate()`: the waiting worker takes over and the page reloads into the
// new version.
window.renrakuUpdateAvailable = false;
window.renrakuApplyUpdate = async () => false;

function announceUpdate() {
  if (window.renrakuUpdateAvailable) return;
  window.renrakuUpdateAvailable = true;
  window.dispatchEvent(new Event("renraku:update-available"));
}

if ("serviceWorker" in navigator) {
  const sw = navigator.serviceWorker;
  // The first install is no update: there was no controller to replace.
  const watch = (worker) =>
    worker?.addEventListener("statechange", () => {
      if (worker.state === "installed" && sw.controller) announceUpdate();
    });

  window.renrakuApplyUpdate = async () => {
    const registration = await sw.getRegistration("/");
    if (!registration?.waiting) return false;
    sw.addEventListener("controllerchange", () => location.reload(), { once: true });
    registration.waiting.postMessage({ type: "SKIP_WAITING" });
    return true;
  };

  // After `load`: the worker's precache then revalidates files the page already holds
  // instead of racing it for the wasm.
  const loaded = new Promise((resolve) =>
    document.readyState === "complete" ? resolve() : addEventListener("load", resolve, { once: true }),
  );
  loaded
    .then(() => sw.register("/sw.js", { scope: "/" }))
    .then((registration) => {
      if (registration.waiting && sw.controller) announceUpdate();
      // The first visit's worker kept only what signing in needs: the app asks for its own
      // files to be kept, so that it opens offline from now on.
      if (bundle === "app") {
        sw.ready.then((ready) => ready.active?.postMessage({ type: "renraku:keep-shell" }));
      }
      sw.ready.then((ready) => {
        if (!sw.controller) ready.active?.postMessage({ type: "renraku:claim" });
      });
      // A first install that fails (a shell file did not arrive on a bad network) leaves no
      // worker at all, and nothing would try again before the next page load: try again
      // a little later, a few times, while this page stays open.
      // (A failed first install clears the registration, so it is registered anew.)
      let retries = 0;
      const retryFirstInstall = (reg, worker) =>
        worker?.addEventListener("statechange", () => {
          if (worker.state !== "redundant" || reg.active || retries >= 5) return;
          retries += 1;
          setTimeout(
            () =>
              sw
                .register("/sw.js", { scope: "/" })
                .then((again) => retryFirstInstall(again, again.installing))
                .catch(() => {}),
            2000 * retries,
          );
        });
      retryFirstInstall(registration, registration.installing);
      watch(registration.installing);
      registration.addEventListener("updatefound", () => watch(registration.installing));
      // Phones keep an installed app open for days: look for a new version when it comes
      // back to the foreground, and hourly.
      const check = () => registration.update().catch(() => {});
      document.addEventListener("visibilitychange", () => {
        if (document.visibilityState === "visible") check();
      });
      setInterval(check, 60 * 60 * 1000);
    })
    .catch((e) => console.warn("service worker registration failed", e));
}

await init({ module_or_path: `/${bundle}_bg.wasm` });
