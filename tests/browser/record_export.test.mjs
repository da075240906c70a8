// A nurse takes the patient's record to her own chart, on a 390×844 phone: from the patient
// room, 📄 記録を出力 → 過去 7 日 → the text ready to paste (date, author, profession, post);
// the CSV downloads as a file Excel reads (UTF-8 with BOM), the PDF as a PDF; 「このスレッドをコピー」 in a
// post's menu puts that thread on the clipboard. Screenshots kept as artifacts.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { openDevice, signIn, closeAll, artifactsDir, baseUrl } from "./lib/browser.mjs";

after(closeAll);

const PATIENT = "山田 太郎 様";

test("export a period as text and CSV, copy a thread", async () => {
  const nurse = await openDevice("nurse");
  const { page } = nurse;
  await nurse.context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: baseUrl });
  await signIn(nurse, "nurse1");
  await page.getByRole("link", { name: new RegExp(PATIENT) }).click();
  const text = `褥瘡処置。発赤 2cm、浸出液なし。(${Date.now()})`;
  await page.getByLabel("新しい投稿を書く").fill(text);
  await page.getByRole("button", { name: "投稿する" }).click();
  const post = page.locator("article", { hasText: text });
  await post.getByText("保存済み").waitFor();

  await page.getByRole("button", { name: "記録を出力" }).click();
  const sheet = page.getByRole("dialog", { name: "記録を出力" });
  await sheet.getByRole("button", { name: "過去 7 日" }).click();
  await sheet.getByRole("button", { name: "テキストで表示" }).click();
  const shown = sheet.getByLabel("出力したテキスト");
  await shown.waitFor();
  const exported = await shown.inputValue();
  assert.match(exported, /山田 太郎　連絡帳の記録/);
  assert.ok(exported.includes(text), "the post is in the text");
  assert.match(exported, /■ \d{4}-\d{2}-\d{2} \d{2}:\d{2} 佐藤 花子（看護師/);
  await page.screenshot({ path: path.join(artifactsDir, "screen-nurse-record-text.png") });

  const [download] = await Promise.all([
    page.waitForEvent("download"),
    sheet.getByRole("button", { name: "CSV (Excel)" }).click(),
  ]);
  assert.match(download.suggestedFilename(), /^renraku-room\d+-\d+\.csv$/);
  const bytes = readFileSync(await download.path());
  assert.deepEqual([...bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf], "UTF-8 with BOM for Excel");
  assert.ok(bytes.toString("utf8").includes(text));

  const [pdf] = await Promise.all([
    page.waitForEvent("download"),
    sheet.getByRole("button", { name: "PDF (印刷用)" }).click(),
  ]);
  assert.match(pdf.suggestedFilename(), /^renraku-room\d+-\d+\.pdf$/);
  assert.equal(readFileSync(await pdf.path()).subarray(0, 5).toString(), "%PDF-");

  // With no network the file cannot come: the sheet says so (no empty or JSON file is saved).
  let saved = 0;
  page.on("download", () => (saved += 1));
  await nurse.setOnline(false);
  await sheet.getByRole("button", { name: "CSV (Excel)" }).click();
  await sheet.getByRole("alert").getByText(/サーバーに接続できません/).waitFor();
  assert.equal(saved, 0, "nothing was saved");
  await nurse.setOnline(true);
  await sheet.getByRole("button", { name: "閉じる" }).click();

  await post.getByRole("button", { name: "その他の操作" }).click();
  await page.getByRole("button", { name: "このスレッドをコピー" }).click();
  await post.getByText("スレッドをコピーしました。").waitFor();
  const clip = await page.evaluate(() => navigator.clipboard.readText());
  assert.ok(clip.includes(text), "the thread is on the clipboard");
});
