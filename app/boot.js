// Starts the wasm app and registers the service worker. Absolute paths: the page is served
// at /{municipality}/… and these must resolve from any route.
import init from "/app.js";

if ("serviceWorker" in navigator) {
  addEventListener("load", () => {
    navigator.serviceWorker
      .register("/sw.js", { scope: "/" })
      .catch((e) => console.warn("service worker registration failed", e));
  });
}

await init({ module_or_path: "/app_bg.wasm" });
