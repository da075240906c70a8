// 定型文 (templates, issue 15 §4) on a phone (390×844): in a patient room the nurse taps
// 定型文 beside the composer, picks the municipality's 訪問報告, and the composer holds its
// fields with the cursor on the first blank (体温); she fills it in and posts it. She keeps
// a text of her own as a template and deletes it again. An administrator adds a shared
// template in the admin screens, and the nurse finds it in the sheet; offline, the sheet
// lists what the phone kept. Screenshots of each step (the phone's screen) are kept as
// artifacts.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { openDevice, signIn, closeAll, artifactsDir, municipality } from "./lib/browser.mjs";

after(closeAll);

const PATIENT = "山田 太郎 様";
const VISIT_REPORT =
  "体温：　℃\n血圧：　/　mmHg\n脈拍：　回/分\nSpO2：　%\n食事：\n排泄：\n様子：";

/** Opens the composer if it is behind a button, and returns the text field. */
async function composer(page) {
  const open = page.getByRole("button", { name: /新しい投稿/ });
  if (await open.count()) await open.click();
  return page.getByLabel("新しい投稿を書く");
}

/** The 定型文 button of the form `field` is in. */
const templateButton = (field) => field.locator("xpath=ancestor::form").locator(".template-button");

/** What the phone's screen shows (390×844, not the whole page): `<artifacts>/screen-…png`. */
async function screen(device, label) {
  await device.page.screenshot({ path: path.join(artifactsDir, `screen-${device.name}-${label}.png`) });
}

const sheet = (page) => page.getByRole("dialog", { name: "定型文" });

test("pick 訪問報告, fill it in and post; keep one's own; an administrator shares a new one", async () => {
  const nurse = await openDevice("nurse");
  await signIn(nurse, "nurse1");
  await nurse.page.getByRole("link", { name: new RegExp(PATIENT) }).click();
  const field = await composer(nurse.page);
  await field.waitFor();

  // The button is a 44 px target beside the composer's others.
  const button = templateButton(field);
  const size = await button.boundingBox();
  assert.ok(size.width >= 44 && size.height >= 44, `a 44 px target (${size.width}×${size.height})`);
  await button.scrollIntoViewIfNeeded();
  await screen(nurse, "composer-with-template-button");
  await button.click();
  const picker = sheet(nurse.page);
  await picker.getByRole("heading", { name: /共有/ }).waitFor();
  await picker.getByRole("button", { name: /訪問報告/ }).waitFor();
  await picker.getByRole("button", { name: /服薬確認/ }).waitFor();
  await screen(nurse, "template-sheet");

  // Picking it fills the composer, cursor on the first blank (the full-width space after 体温：).
  await picker.getByRole("button", { name: /訪問報告/ }).click();
  await picker.waitFor({ state: "detached" });
  assert.equal(await field.inputValue(), VISIT_REPORT);
  await nurse.page.waitForFunction(() => document.activeElement?.tagName === "TEXTAREA");
  const selection = await field.evaluate((t) => [t.selectionStart, t.selectionEnd]);
  assert.deepEqual(selection, [3, 4], "the blank after 体温： is selected");
  assert.equal(await field.evaluate((t) => t.scrollTop), 0, "the field shows the blank's line");
  await screen(nurse, "composer-visit-report");

  // Typing replaces the blank; the rest is filled in the same way.
  await nurse.page.keyboard.type("36.8");
  const filled = (await field.inputValue())
    .replace("血圧：　/　", "血圧：128/76 ")
    .replace("脈拍：　", "脈拍：72")
    .replace("SpO2：　", "SpO2：97")
    .replace("食事：", "食事：全量摂取")
    .replace("排泄：", "排泄：排便あり")
    .replace("様子：", `様子：穏やか (${Date.now()})`);
  assert.ok(filled.startsWith("体温：36.8℃\n"), filled);
  await field.fill(filled);
  await screen(nurse, "composer-filled");
  await nurse.page.getByRole("button", { name: "投稿する" }).click();
  const post = nurse.page.locator("article", { hasText: "体温：36.8℃" });
  await post.getByText("保存済み").waitFor();
  assert.match(await post.locator(".text").first().textContent(), /血圧：128\/76 mmHg\n脈拍：72回\/分/);
  await post.scrollIntoViewIfNeeded();
  await screen(nurse, "visit-report-posted");

  // Her own: what she is writing, kept under a title, then deleted again.
  const own = await composer(nurse.page);
  await own.fill("申し送り：\n次回訪問：");
  await templateButton(own).click();
  await picker.getByLabel("タイトル").fill("申し送りメモ");
  await picker.getByRole("button", { name: "保存する" }).click();
  await picker.getByRole("status").getByText("保存しました。").waitFor();
  const mine = picker.getByRole("region", { name: "自分の定型文" });
  await mine.getByRole("button", { name: /^申し送りメモ/ }).waitFor();
  await screen(nurse, "template-saved-own");
  await mine.getByRole("button", { name: "「申し送りメモ」を削除" }).click();
  await mine.getByRole("button", { name: "削除する" }).click();
  await mine.getByRole("button", { name: /^申し送りメモ/ }).waitFor({ state: "detached" });
  await picker.getByRole("button", { name: "閉じる" }).click();
  await picker.waitFor({ state: "detached" });
  assert.equal(await own.inputValue(), "申し送り：\n次回訪問：", "the composer kept its text");

  // An administrator adds a shared template in the admin screens.
  const admin = await openDevice("admin");
  await signIn(admin, "city1");
  await admin.goto(`/${municipality}/admin/templates`);
  await admin.page.getByRole("heading", { name: "定型文", exact: true }).waitFor();
  await admin.page.getByText("訪問報告").first().waitFor();
  await admin.page.getByRole("button", { name: "＋ 定型文を作成" }).click();
  const form = admin.page.getByRole("dialog", { name: "定型文を作成" });
  await form.getByLabel("タイトル").fill("褥瘡チェック");
  await form.getByLabel(/本文/).fill("部位：\n大きさ：　cm\n処置：");
  await form.getByLabel(/表示順/).fill("5");
  await screen(admin, "admin-new-template");
  await form.getByRole("button", { name: "保存する" }).click();
  await form.waitFor({ state: "detached" });
  const list = admin.page.getByRole("list", { name: "共有定型文の一覧" });
  await list.getByText("褥瘡チェック").waitFor();
  // Order 5: after 訪問報告 (0), before 服薬確認 (10).
  const names = await list.locator("li .name").allTextContents();
  assert.deepEqual(names.slice(0, 3), ["訪問報告", "褥瘡チェック", "服薬確認"]);
  await screen(admin, "admin-templates");

  // The nurse finds it in the sheet and inserts it after what she was writing.
  await own.fill("");
  await templateButton(own).click();
  await picker.getByRole("button", { name: /褥瘡チェック/ }).click();
  await picker.waitFor({ state: "detached" });
  assert.equal(await own.inputValue(), "部位：\n大きさ：　cm\n処置：");
  // The field was focused already: the app moves the cursor after the next paint, away
  // from the end where setting the value left it.
  await own.evaluate(
    (t) =>
      new Promise((done) => {
        // Bounded: a cursor that never moves fails the assertion below, with its position.
        const until = performance.now() + 5_000;
        const placed = () =>
          t.selectionStart !== t.value.length || performance.now() > until ? done() : requestAnimationFrame(placed);
        placed();
      }),
  );
  const at = await own.evaluate((t) => [t.selectionStart, t.selectionEnd]);
  assert.deepEqual(at, [3, 3], "the cursor is after 部位：");
  await screen(nurse, "composer-new-shared-template");

  // Offline, the sheet lists what the phone kept from the last time.
  await nurse.setOnline(false);
  await own.fill("");
  await templateButton(own).click();
  await picker.getByRole("button", { name: /褥瘡チェック/ }).waitFor();
  await picker.getByRole("button", { name: /訪問報告/ }).click();
  assert.equal(await own.inputValue(), VISIT_REPORT);
  await nurse.setOnline(true);
});
