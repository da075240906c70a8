// A passkey as the second factor, in real Chromium with a virtual authenticator (DevTools
// protocol `WebAuthn.addVirtualAuthenticator`: CTAP2, internal, resident keys, user
// verification that always succeeds). A nurse registers a passkey in settings, signs out,
// signs in with her password, is asked for a second factor, confirms with the passkey and
// lands on home. Then, signed out again, she signs in with the passkey alone (password-less:
// the credential is discoverable, and the authenticator names the account). WebAuthn needs a domain, not an IP address: the runner's setup points
// RENRAKU_BASE_URL at http://localhost:PORT (the server's relying party is `localhost` when
// no public URL is configured).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { openDevice, closeAll, municipality, demoPassword, baseUrl } from "./lib/browser.mjs";

after(closeAll);

const PATIENT = "山田 太郎 様";

test("a passkey registered in settings confirms the next sign-in", async () => {
  assert.match(baseUrl, /^http:\/\/localhost:/, "WebAuthn needs the app on a domain");
  const phone = await openDevice("passkey");
  const { page } = phone;
  const { cdp, authenticatorId } = await phone.addPasskeyAuthenticator();

  // Sign in with the password alone (no second factor yet).
  await phone.goto(`/${municipality}/`);
  await page.getByLabel("ログイン ID").fill("nurse1");
  await page.getByLabel("パスワード").fill(demoPassword);
  await page.getByRole("button", { name: "サインイン" }).click();
  await page.getByRole("link", { name: new RegExp(PATIENT) }).waitFor();

  // Settings → パスキー → register.
  await page.getByRole("button", { name: "設定" }).click();
  const section = page.getByRole("region", { name: "パスキー" });
  await section.getByText("登録済みのパスキーはありません。").waitFor();
  await section.getByLabel("パスキーの名前（任意）").fill("仕事用スマホ");
  await section.getByRole("button", { name: "パスキーを登録" }).click();
  await section.getByText("パスキーを登録しました。").waitFor();
  await section.getByText("仕事用スマホ").waitFor();
  await phone.screenshot("registered");
  const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
  assert.equal(credentials.length, 1, "the authenticator holds one credential");

  // Sign out, then in again: the password is not enough any more.
  await page.getByRole("button", { name: "サインアウト" }).click();
  await page.getByLabel("ログイン ID").waitFor();
  await page.getByLabel("ログイン ID").fill("nurse1");
  await page.getByLabel("パスワード").fill(demoPassword);
  await page.getByRole("button", { name: "サインイン" }).click();
  const confirm = page.getByRole("button", { name: "パスキーで確認" });
  await confirm.waitFor();
  await phone.screenshot("second-factor");
  assert.equal(await page.getByRole("link", { name: new RegExp(PATIENT) }).count(), 0);
  await confirm.click();
  await page.getByRole("link", { name: new RegExp(PATIENT) }).waitFor();
  await phone.screenshot("home-after-passkey");

  // The assertion moved the authenticator's counter.
  const after = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
  assert.ok(after.credentials[0].signCount >= 1, "the passkey was used");
  assert.ok(after.credentials[0].isResidentCredential, "registered as a discoverable credential");

  // Password-less: no login ID, no password, only the passkey.
  await page.getByRole("button", { name: "設定" }).click();
  await page.getByRole("button", { name: "サインアウト" }).click();
  await page.getByLabel("ログイン ID").waitFor();
  await page.getByRole("button", { name: "パスキーを使う" }).click();
  await page.getByRole("link", { name: new RegExp(PATIENT) }).waitFor();
  await phone.screenshot("home-password-less");
  const last = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
  assert.ok(last.credentials[0].signCount > after.credentials[0].signCount);
});
