// Signing out of a phone with posts still waiting to be sent (issue 13 §6). The app says so
// first (「送信待ちの投稿が N 件あります」): waiting keeps the post and the session, and the post
// arrives when the network returns; online, waiting sends it and then signs out; discarding
// is a choice the user makes knowingly. A sign-out made offline deletes the device's data at
// once, reopening the app asks for the password, and the server ends the old session as soon
// as the network returns — while the app is open, and when it is next started.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import path from "node:path";
import {
  openDevice,
  signIn,
  closeAll,
  apiSignIn,
  api,
  baseUrl,
  municipality,
  artifactsDir,
} from "./lib/browser.mjs";

after(closeAll);

const PATIENT = "山田 太郎 様";
const yclient = fileURLToPath(new URL("../node/yclient.mjs", import.meta.url));

async function openRoom(device) {
  await device.page.getByRole("link", { name: new RegExp(PATIENT) }).click();
  await device.page.getByLabel("新しい投稿を書く").waitFor();
}

async function post(device, text) {
  const { page } = device;
  await page.getByLabel("新しい投稿を書く").fill(text);
  await page.getByRole("button", { name: "投稿する" }).click();
}

const article = (device, text) => device.page.locator("article", { hasText: text });

/** From a room: back to home, then settings, as a user would. */
async function openSettings(device) {
  const { page } = device;
  await page.getByRole("button", { name: "戻る" }).click();
  await page.getByRole("button", { name: "設定" }).click();
  await page.getByRole("heading", { name: "サインアウト" }).waitFor();
}

const signOutButton = (device) =>
  device.page.getByRole("region", { name: "サインアウト" }).getByRole("button", { name: "サインアウト" });

/** The sign-in form is on screen, asking for the password. */
async function asksForPassword(device) {
  await device.page.getByLabel("パスワード").waitFor();
  assert.equal(await device.page.getByRole("button", { name: "設定" }).count(), 0, "not signed in");
}

/** The device's session cookie, as a `cookie` header value. */
async function sessionCookie(device) {
  const cookies = await device.context.cookies(baseUrl);
  const session = cookies.find((c) => c.name.includes("renraku"));
  assert.ok(session, `a session cookie (have: ${cookies.map((c) => c.name).join(", ")})`);
  return `${session.name}=${session.value}`;
}

/** What the server answers `GET /api/me` with that cookie. */
async function meStatus(cookie) {
  return (await fetch(`${baseUrl}/api/me`, { headers: { cookie } })).status;
}

/** The room's posts as the server holds them, read by a colleague with a standard Yjs client. */
async function postsOnServer(room) {
  const doctor = await apiSignIn("doctor1");
  const { token } = await api(doctor, `/api/rooms/${room}/token`, { method: "POST" });
  const ws = `${baseUrl.replace(/^http/, "ws")}/yjs`;
  const { stdout } = await promisify(execFile)("node", [yclient, ws, String(room), token, "dump"]);
  return Object.values(JSON.parse(stdout).posts).map((p) => JSON.stringify(p));
}

const times = (posts, text) => posts.filter((p) => p.includes(text)).length;

test("sign-out with a post waiting: wait, wait online, discard; offline sign-out ends the session later", async () => {
  const phone = await openDevice("signout");
  const { page } = phone;
  await signIn(phone, "nurse1");
  await phone.serviceWorkerControls();
  await openRoom(phone);
  const room = Number(new URL(page.url()).pathname.split("/").pop());

  // Offline, a post waits in the outbox.
  await phone.setOnline(false);
  await page.getByText(/オフラインです/).waitFor();
  const kept = `電波のない訪問先から: 状態安定。(${Date.now()})`;
  await post(phone, kept);
  await article(phone, kept).getByText("送信待ち").waitFor();

  // Signing out asks first.
  await openSettings(phone);
  await signOutButton(phone).click();
  const dialog = page.getByRole("dialog", { name: "送信待ちの投稿が 1 件あります" });
  await dialog.waitFor();
  await dialog.getByText(/オフラインのため/).waitFor();
  for (const name of ["送信を待つ", "破棄してサインアウト", "キャンセル"]) {
    const box = await dialog.getByRole("button", { name }).boundingBox();
    assert.ok(box.height >= 44 && box.width >= 300, `${name}: a full-width 44 px target (${box.width}×${box.height})`);
  }
  // What the phone's screen shows (390×844), beside the harness's full-page shot.
  await page.screenshot({ path: path.join(artifactsDir, "asks-before-sign-out-390x844.png") });
  await phone.screenshot("asks-before-sign-out");

  // Waiting keeps the session and the post, also across a reload with no network.
  await dialog.getByRole("button", { name: "送信を待つ" }).click();
  await dialog.waitFor({ state: "detached" });
  await page.getByText(/サインインしたままにしました/).waitFor();
  await page.reload({ waitUntil: "load" });
  await page.getByRole("heading", { name: "サインアウト" }).waitFor();
  await page.getByRole("button", { name: "戻る" }).click();
  await openRoom(phone);
  await article(phone, kept).getByText("送信待ち").waitFor();

  // Back online, the post arrives, once.
  await phone.setOnline(true);
  await article(phone, kept).getByText("保存済み").waitFor();
  assert.equal(times(await postsOnServer(room), kept), 1, "the kept post is on the server");

  // Waiting while online: the post is sent, then the app signs out by itself.
  await phone.setOnline(false);
  await page.getByText(/オフラインです/).waitFor();
  const sent = `戻ってから送る記録 (${Date.now()})`;
  await post(phone, sent);
  await article(phone, sent).getByText("送信待ち").waitFor();
  await openSettings(phone);
  await signOutButton(phone).click();
  await dialog.waitFor();
  await phone.setOnline(true);
  await dialog.getByText("まだサーバーに届いていません。").waitFor();
  const online = await sessionCookie(phone);
  await dialog.getByRole("button", { name: "送信を待つ" }).click();
  await asksForPassword(phone);
  assert.equal(times(await postsOnServer(room), sent), 1, "sent before signing out");
  assert.equal(await meStatus(online), 401, "the session ended on the server");

  // Discarding, offline: the device signs out at once and says the server is told later.
  await signIn(phone, "nurse1");
  await openRoom(phone);
  await phone.setOnline(false);
  await page.getByText(/オフラインです/).waitFor();
  const discarded = `破棄される下書き投稿 (${Date.now()})`;
  await post(phone, discarded);
  await article(phone, discarded).getByText("送信待ち").waitFor();
  const old = await sessionCookie(phone);
  await openSettings(phone);
  await signOutButton(phone).click();
  await dialog.getByRole("button", { name: "破棄してサインアウト" }).click();
  await asksForPassword(phone);
  await page.getByText(/サーバー側のサインアウトは通信が戻ったときに自動で完了します/).waitFor();
  await phone.screenshot("signed-out-offline");
  assert.equal(await meStatus(old), 200, "the server has not heard yet (the phone is offline)");

  // Reopened with no network: the password, not the workspace.
  await page.reload({ waitUntil: "load" });
  await asksForPassword(phone);

  // The network returns with the app open: the old session is ended at once.
  // The app may tell the server more than once (the \`online\` event and the reconnect both
  // settle what is owed); one of them ends the session, any later one finds it ended (401).
  // What the user relies on is the old session being refused, whichever of the app's
  // attempts (the page's, after Chromium's network is really back) got through: looked at
  // from outside, for as long as the app's retries take at most.
  await phone.setOnline(true);
  const until = Date.now() + 30_000;
  while ((await meStatus(old)) !== 401 && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  assert.equal(await meStatus(old), 401, "the old session cookie is refused");
  await page.getByText(/サーバー側のサインアウト/).waitFor({ state: "detached" });
  await page.reload({ waitUntil: "load" });
  await asksForPassword(phone);
  assert.equal(times(await postsOnServer(room), discarded), 0, "the discarded post never arrived");
});

test("a sign-out made offline is completed at the next start, before anything else", async () => {
  const phone = await openDevice("signout-start");
  await signIn(phone, "nurse1");
  await phone.serviceWorkerControls();
  await phone.page.getByRole("button", { name: "設定" }).waitFor();
  const old = await sessionCookie(phone);

  // Nothing waits: offline, the app signs out without asking.
  await phone.setOnline(false);
  await phone.page.getByRole("button", { name: "設定" }).click();
  await signOutButton(phone).click();
  await asksForPassword(phone);
  // The app is closed (its page unloaded) when the network returns; it is opened later.
  const { page } = phone;
  await page.goto("about:blank");
  await phone.setOnline(true);
  assert.equal(await meStatus(old), 200, "no one has told the server yet");
  const asked = [];
  page.on("request", (r) => {
    const path = new URL(r.url()).pathname;
    if (path.startsWith("/api/")) asked.push(path);
  });
  await phone.goto(`/${municipality}/`);
  await asksForPassword(phone);
  assert.equal(await meStatus(old), 401, "the old session cookie is refused");
  assert.equal(asked[0], "/api/signout", `the first request ends the old session (${asked.join(", ")})`);
  assert.ok(asked.includes("/api/me"), asked.join(", "));
});
