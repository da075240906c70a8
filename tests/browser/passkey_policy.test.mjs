// Where the municipality requires a second factor, a new professional enrols a passkey
// instead of an authenticator app, right after her first password sign-in, and from then on
// the password alone is not enough. Chromium's virtual authenticator stands in for the
// phone's; the runner opens the app at http://localhost:PORT (WebAuthn needs a domain) and
// turns the demo municipality's second-factor policy on.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { openDevice, closeAll, municipality, demoPassword } from "./lib/browser.mjs";

after(closeAll);

async function passwordStep(page, loginId) {
  await page.getByLabel("ログイン ID").fill(loginId);
  await page.getByLabel("パスワード").fill(demoPassword);
  await page.getByRole("button", { name: "サインイン", exact: true }).click();
}

test("a required second factor can be a passkey", async () => {
  const phone = await openDevice("policy");
  const { page } = phone;
  const { cdp, authenticatorId } = await phone.addPasskeyAuthenticator();

  await phone.goto(`/${municipality}/`);
  await passwordStep(page, "helper1");
  await page.getByRole("heading", { name: "二段階認証の設定" }).waitFor();
  await phone.screenshot("enrol");
  await page.getByRole("button", { name: "パスキーを登録" }).click();
  // Enrolled: the workspace opens (home lists the rooms).
  await page.getByRole("button", { name: "設定" }).waitFor();
  const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
  assert.equal(credentials.length, 1);

  await page.getByRole("button", { name: "設定" }).click();
  await page.getByRole("button", { name: "サインアウト" }).click();
  await page.getByLabel("ログイン ID").waitFor();
  await passwordStep(page, "helper1");
  // The password alone no longer opens anything: the passkey is asked for.
  await page.getByRole("button", { name: "パスキーで確認" }).click();
  await page.getByRole("button", { name: "設定" }).waitFor();
  await phone.screenshot("home");
});
