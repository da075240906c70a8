// The app lock opens with a passkey too: a nurse with a passkey (Chromium's virtual
// authenticator; the app at http://localhost:PORT) leaves the app idle, it locks, and
// パスキーで解除 brings her screen back without the password.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { openDevice, closeAll, municipality, demoPassword } from "./lib/browser.mjs";

after(closeAll);

const PATIENT = "山田 太郎 様";

test("a locked app opens with the passkey", async () => {
  const phone = await openDevice("lock-passkey");
  const { page } = phone;
  await phone.addPasskeyAuthenticator();
  await phone.goto(`/${municipality}/`);
  await page.getByLabel("ログイン ID").fill("nurse2");
  await page.getByLabel("パスワード").fill(demoPassword);
  await page.getByRole("button", { name: "サインイン", exact: true }).click();
  await page.getByRole("link", { name: new RegExp(PATIENT) }).waitFor();
  await page.getByRole("button", { name: "設定" }).click();
  await page.getByRole("button", { name: "パスキーを登録" }).click();
  await page.getByText("パスキーを登録しました。").waitFor();
  await page.getByRole("button", { name: "戻る" }).click();
  await page.getByRole("link", { name: new RegExp(PATIENT) }).waitFor();

  await page.getByRole("heading", { name: "ロック中" }).waitFor({ timeout: 30_000 });
  assert.equal(await page.getByText(PATIENT).count(), 0, "the patient's name left the DOM");
  await page.getByRole("button", { name: "パスキーで解除" }).click();
  await page.getByRole("link", { name: new RegExp(PATIENT) }).waitFor();
  await phone.screenshot("unlocked-with-passkey");
});
