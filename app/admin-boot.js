// Starts the admin bundle (app/admin.html). The service worker is the app's (app/boot.js
// registers it); this page never precaches anything.
import init from "/admin.js";

await init({ module_or_path: "/admin_bg.wasm" });
