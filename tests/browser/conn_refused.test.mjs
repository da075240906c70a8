// Issue 13 §4: the server caps WebSockets per user (here at 1, so a second device is over it)
// and refuses the extra one with a close reason. The app says so instead of spinning on
// 「接続しています…」, keeps what the user writes in its outbox, retries slowly, and connects by
// itself once the other device lets go — and the post written meanwhile is saved.
// Screenshot (390×844 phone): the refusal banner.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { openDevice, signIn, closeAll } from "./lib/browser.mjs";

after(closeAll);

const PATIENT = "山田 太郎 様";
/** Resolves once `condition()` holds (checked every 50 ms), or fails after 30 s. */
async function until(condition) {
  const deadline = Date.now() + 30_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${condition}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const REFUSED = "開いているタブ・端末が多すぎます（1 人 1 まで）";

test("a device over the per-user connection cap says so, keeps posts and connects once another lets go", async () => {
  const desk = await openDevice("desk");
  await signIn(desk, "nurse1");
  await desk.page.getByRole("link", { name: new RegExp(PATIENT) }).waitFor();
  await desk.page.waitForFunction(() => !document.querySelector(".banner.offline"));

  const phone = await openDevice("phone-refused");
  const sockets = [];
  const closedAt = [];
  phone.page.on("websocket", (ws) => {
    if (!ws.url().endsWith("/ws")) return;
    sockets.push(ws);
    ws.on("close", () => closedAt.push(Date.now()));
  });
  await signIn(phone, "nurse1");
  const banner = phone.page.getByRole("alert").filter({ hasText: REFUSED });
  await banner.waitFor();
  await phone.screenshot("connection-refused");
  assert.equal(
    await phone.page.getByText("サーバーに接続しています").count(),
    0,
    "the refusal replaces the generic 'connecting' banner",
  );

  // It does not hammer the server: the next try comes seconds after the refusal, not at once.
  await until(() => closedAt.length >= 1);
  const refusedAt = closedAt[0];
  await until(() => sockets.length >= 2);
  const gap = Date.now() - refusedAt;
  assert.ok(gap >= 4000, `retried ${gap} ms after the refusal`);
  await banner.waitFor();

  // Writing still works: the post waits in the outbox.
  await phone.page.getByRole("link", { name: new RegExp(PATIENT) }).click();
  const text = "上限で待たされている間に書いた投稿";
  await phone.page.getByLabel("新しい投稿を書く").fill(text);
  await phone.page.getByRole("button", { name: "投稿する" }).click();
  const post = phone.page.locator("article", { hasText: text });
  await post.getByText("送信待ち").waitFor();
  assert.equal(await banner.count(), 1, "still refused");

  // The desk closes: the phone connects by itself, the banner goes, the post is saved.
  await desk.close();
  await post.getByText("保存済み").waitFor({ timeout: 30_000 });
  await banner.waitFor({ state: "detached" });
});
