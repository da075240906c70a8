// Issue 13: when a session ends on the server, the app on that device learns it from the
// sync socket's close frame (code 1008 with a reason), returns to sign-in at once and says
// why in Japanese — here, the session ended from another device, then a password changed
// on another device. Screenshot (390×844 phone): the sign-in screen saying why.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { openDevice, signIn, closeAll, apiSignIn, api, demoPassword } from "./lib/browser.mjs";

after(closeAll);

/** Signs `login` in on `device` and waits until its socket is live; the socket. */
async function signedInWithSocket(device, login) {
  const sockets = [];
  device.page.on("websocket", (ws) => {
    if (ws.url().endsWith("/ws")) sockets.push(ws);
  });
  await signIn(device, login);
  await device.page.getByRole("link", { name: /山田 太郎/ }).waitFor();
  await device.page.waitForFunction(() => !document.querySelector(".banner.offline"));
  assert.ok(sockets.length >= 1, "the app opened its WebSocket");
  const live = sockets[sockets.length - 1];
  assert.equal(live.isClosed(), false);
  return live;
}

test("a session ended from another device returns the phone to sign-in, saying why", async () => {
  const phone = await openDevice("phone-revoked");
  const live = await signedInWithSocket(phone, "nurse2");
  const closed = new Promise((resolve) => live.on("close", resolve));

  // On another device, the same person ends the phone's session from the list.
  const other = await apiSignIn("nurse2");
  const sessions = await api(other, "/api/me/sessions");
  const phoneSession = sessions.find((s) => !s.current);
  assert.ok(phoneSession, "the phone's session is listed");
  await api(other, `/api/me/sessions/${phoneSession.id}`, { method: "DELETE" });

  await closed;
  await phone.page.getByLabel("ログイン ID").waitFor();
  await phone.page.getByRole("status").filter({ hasText: "別の端末でサインアウトされました" }).waitFor();
  assert.equal(await phone.page.getByRole("link", { name: /山田 太郎/ }).count(), 0);
  await phone.screenshot("signed-out-from-another-device");
});

test("a password changed on another device returns the phone to sign-in, saying why", async () => {
  const phone = await openDevice("phone-password");
  const live = await signedInWithSocket(phone, "nurse1");
  const closed = new Promise((resolve) => live.on("close", resolve));

  const other = await apiSignIn("nurse1");
  await api(other, "/api/me/password", {
    method: "POST",
    body: { current: demoPassword, new: "a fresh passphrase 2026" },
  });

  await closed;
  await phone.page.getByLabel("ログイン ID").waitFor();
  await phone.page
    .getByRole("status")
    .filter({ hasText: "パスワードが変更されたため、再度サインインしてください" })
    .waitFor();
});
