// The shared harness of the browser tests (tests/browser/*.test.mjs): Debian's Chromium
// driven by playwright-core, one phone-sized "device" per professional, network cuts through
// DevTools network emulation, screenshots into the artifacts directory.
//
// The Rust runner (tests/tests/it/browser.rs) starts the real server with the demo data and runs
// each test file with:
//   RENRAKU_BASE_URL     the server, e.g. http://127.0.0.1:41234
//   RENRAKU_ARTIFACTS    a directory for screenshots and logs (tests/artifacts/<file>/)
//   RENRAKU_BROWSER_TMP  a directory for browser profiles, swept by the runner afterwards
//   RENRAKU_CHROMIUM     the browser binary (/usr/bin/chromium)
// plus whatever a test's setup function adds.

import { createRequire } from "node:module";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

// playwright-core lives in tests/node/node_modules, which Node's resolution would never look
// in from here: resolve it from that package.
const require = createRequire(new URL("../../node/package.json", import.meta.url));
const { chromium } = require("playwright-core");

function env(name, fallback) {
  const value = process.env[name] ?? fallback;
  if (value === undefined) {
    throw new Error(
      `${name} is not set: run browser tests through the Rust runner ` +
        "(cargo test -p renraku-tests --test it browser::)",
    );
  }
  return value;
}

export const baseUrl = env("RENRAKU_BASE_URL").replace(/\/$/, "");
export const artifactsDir = env("RENRAKU_ARTIFACTS", path.resolve("tests/artifacts/adhoc"));
export const chromiumPath = env("RENRAKU_CHROMIUM", "/usr/bin/chromium");
const browserTmp = env("RENRAKU_BROWSER_TMP", os.tmpdir());
mkdirSync(artifactsDir, { recursive: true });

/** The demo municipality seeded by server/src/demo.rs, and its shared demo password. */
export const municipality = "demo";
export const demoPassword = "renraku-demo";

/** From /work/shared/TOOLCHAIN.md; playwright adds --headless and --no-sandbox itself. */
export const chromiumArgs = [
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** A phone: 390×844 CSS px, touch, mobile viewport, Japanese locale and time zone. */
export const phone = {
  viewport: { width: 390, height: 844 },
  screen: { width: 390, height: 844 },
  deviceScaleFactor: 3,
  isMobile: true,
  hasTouch: true,
  userAgent:
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) " +
    "Chrome/156.0.0.0 Mobile Safari/537.36",
  locale: "ja-JP",
  timezoneId: "Asia/Tokyo",
};

const open = new Set();

/**
 * A phone of one professional: its own Chromium with a fresh persistent profile (service
 * workers, IndexedDB and installability behave as on a real phone; a default, incognito-like
 * context reports `in-incognito` for installability). `name` labels screenshots and logs.
 * `options` go to launchPersistentContext (e.g. `{ colorScheme: "dark" }`).
 */
export async function openDevice(name = "phone", options = {}) {
  const profile = mkdtempSync(path.join(browserTmp, `profile-${name}-`));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: chromiumArgs,
    ...phone,
    ...options,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const device = new Device(name, context, page);
  open.add(device);
  return device;
}

class Device {
  constructor(name, context, page) {
    this.name = name;
    this.context = context;
    this.page = page;
    this.log = [];
    this.shots = 0;
    const record = (p) => {
      p.on("console", (m) => this.log.push(`[${m.type()}] ${m.text()}`));
      p.on("pageerror", (e) => this.log.push(`[pageerror] ${e.stack ?? e}`));
      p.on("requestfailed", (r) =>
        this.log.push(`[requestfailed] ${r.method()} ${r.url()} ${r.failure()?.errorText}`),
      );
    };
    record(page);
    context.on("page", record);
  }

  /** `path` on the server: `device.url("/demo/")`. */
  url(p = "/") {
    return `${baseUrl}${p}`;
  }

  /** Opens `p` (default: the municipality's start page) and waits for the load event. */
  async goto(p = `/${municipality}/`) {
    return this.page.goto(this.url(p), { waitUntil: "load" });
  }

  /** A DevTools protocol session on the device's page. */
  async cdp(page = this.page) {
    return this.context.newCDPSession(page);
  }

  /**
   * Cuts (`false`) or restores (`true`) the network through DevTools network emulation
   * (`Network.emulateNetworkConditions`, offline). Playwright applies it to every target of
   * the context — pages and service workers alike, so a service worker's `fetch()` fails too
   * (pwa_network_cut.test.mjs verifies this, and what happens to an open WebSocket).
   */
  async setOnline(online) {
    await this.context.setOffline(!online);
  }

  /** Saves a full-page PNG as `<artifacts>/<NN>-<device>-<label>.png`; returns its path. */
  async screenshot(label, page = this.page) {
    this.shots += 1;
    const file = path.join(
      artifactsDir,
      `${String(this.shots).padStart(2, "0")}-${this.name}-${label}.png`,
    );
    await page.screenshot({ path: file, fullPage: true });
    return file;
  }

  /** Resolves once a service worker controls the page; returns its script URL. */
  async serviceWorkerControls(page = this.page) {
    // Bounded, and saying what it saw: a page no worker ever controls fails here, clearly,
    // instead of at the test's time limit.
    return page.evaluate(async () => {
      const within = (promise, what) =>
        Promise.race([
          promise,
          new Promise((_, reject) =>
            setTimeout(async () => {
              const r = await navigator.serviceWorker.getRegistration("/");
              const state = (w) => w?.state ?? "none";
              reject(
                new Error(
                  `${what} after 60 s (installing ${state(r?.installing)}, waiting ${state(r?.waiting)}, active ${state(r?.active)})`,
                ),
              );
            }, 60_000),
          ),
        ]);
      const registration = await within(navigator.serviceWorker.ready, "no service worker is active");
      if (!navigator.serviceWorker.controller) {
        await within(
          new Promise((resolve) =>
            navigator.serviceWorker.addEventListener("controllerchange", resolve, { once: true }),
          ),
          "no service worker controls the page",
        );
      }
      return registration.active.scriptURL;
    });
  }

  /**
   * Gives the device a passkey authenticator (DevTools `WebAuthn.addVirtualAuthenticator`:
   * CTAP2, built in, resident keys, user verification that always succeeds, presence
   * confirmed without a touch). Returns the DevTools session and the authenticator's id, to
   * read its credentials with `WebAuthn.getCredentials`.
   */
  async addPasskeyAuthenticator() {
    const cdp = await this.cdp();
    await cdp.send("WebAuthn.enable");
    const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
      options: {
        protocol: "ctap2",
        transport: "internal",
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });
    return { cdp, authenticatorId };
  }

  /** Closes the browser and writes the console log to `<artifacts>/console-<device>.log`. */
  async close() {
    if (!open.delete(this)) return;
    writeFileSync(path.join(artifactsDir, `console-${this.name}.log`), this.log.join("\n") + "\n");
    await this.context.close().catch(() => {});
  }
}

/** Closes every device still open (use in `after()`). */
export async function closeAll() {
  await Promise.all([...open].map((d) => d.close()));
}

/**
 * Signs `loginId` in through the sign-in form of `/{municipality}/`, as a user would, and
 * waits until the form is gone. Throws with the form's error message if sign-in fails.
 */
export async function signIn(device, loginId, { password = demoPassword, at = municipality } = {}) {
  const { page } = device;
  await device.goto(`/${at}/`);
  await page.getByLabel("ログイン ID").fill(loginId);
  await page.getByLabel("パスワード").fill(password);
  await page.getByRole("button", { name: "サインイン" }).click();
  const passwordField = page.getByLabel("パスワード");
  // The sign-in form's own alert (home may raise one of its own, e.g. 災害モード).
  const alert = page.locator("main.portal").getByRole("alert");
  await Promise.race([
    passwordField.waitFor({ state: "detached" }),
    alert.waitFor({ state: "visible" }).then(async () => {
      throw new Error(`sign-in of ${loginId} failed: ${await alert.textContent()}`);
    }),
  ]);
}

/**
 * From home, opens the room titled `title` and starts a thread with `text`; waits until it is
 * 保存済み and returns the post's `article`.
 */
export async function postInRoom(device, title, text) {
  const { page } = device;
  await page.getByRole("link", { name: new RegExp(title) }).click();
  await page.getByLabel("新しい投稿を書く").fill(text);
  await page.getByRole("button", { name: "投稿する" }).click();
  const post = page.locator("article", { hasText: text });
  await post.getByText("保存済み").waitFor();
  return post;
}

/** Signs in over the HTTP API (no browser); returns the session token for `api()`. */
export async function apiSignIn(loginId, { password = demoPassword, at = municipality } = {}) {
  const body = await api(null, `/api/${at}/signin`, {
    method: "POST",
    body: { login_id: loginId, password },
  });
  return body.session_token;
}

/** A JSON API call with a bearer session; throws on a non-2xx answer. */
export async function api(token, p, { method = "GET", body } = {}) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(`${baseUrl}${p}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${p}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/**
 * For `page.addInitScript(recordsText, text)`: from the start of every document,
 * `window.__seen` turns true if `text` is ever anywhere in the page, even for a moment.
 */
export function recordsText(text) {
  window.__seen = false;
  new MutationObserver(() => {
    if (document.body && document.body.textContent.includes(text)) window.__seen = true;
  }).observe(document, { childList: true, subtree: true, characterData: true });
}

/** Slows the page's CPU down `rate` times (`Emulation.setCPUThrottlingRate`). */
export async function throttleCpu(device, rate) {
  const session = await device.cdp();
  await session.send("Emulation.setCPUThrottlingRate", { rate });
  return session;
}

// A test that throws leaves no browser behind, even if it forgot closeAll().
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => {
    closeAll().finally(() => process.exit(130));
  });
}
