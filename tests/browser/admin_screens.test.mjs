// The administration screens (issue 5) as a municipality administrator uses them on a phone:
// city1 opens 管理 from settings, creates an account (its temporary password is shown once)
// and finds it in the list; disables a colleague who is signed in on another phone, whose
// live socket closes and whose app returns to sign-in; reads the audit log, where the
// actions appear and a filter narrows them (and the CSV export follows the filter); sees the
// demo's posts as bars in the statistics chart. Screenshots (390×844 phone): the account
// list, the audit log, the statistics.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { openDevice, signIn, closeAll } from "./lib/browser.mjs";

after(closeAll);

const NEW_LOGIN = `nurse-test-${Date.now() % 100000}`;
const NEW_NAME = "試験 花子";

/** From home through settings into 管理, then one section from the menu. */
async function openAdmin(device, section) {
  const { page } = device;
  await page.getByRole("button", { name: "設定" }).click();
  await page.getByRole("link", { name: "管理画面を開く" }).click();
  await page.getByRole("heading", { name: "管理", exact: true }).waitFor();
  await page.getByRole("link", { name: new RegExp(`^${section}`) }).click();
  await page.getByRole("heading", { name: section, exact: true }).waitFor();
}

/** Switches section with the strip under the top bar. */
async function switchTo(device, section) {
  const strip = device.page.getByRole("navigation", { name: "管理メニュー" });
  await strip.getByRole("link", { name: section, exact: true }).click();
  await device.page.getByRole("heading", { name: section, exact: true }).waitFor();
}

test("an administrator creates an account and disables a signed-in colleague", async () => {
  const admin = await openDevice("admin");
  const helper = await openDevice("helper");
  await signIn(admin, "city1");
  await openAdmin(admin, "アカウント");
  const list = admin.page.getByRole("list", { name: "アカウント一覧" });
  await list.getByRole("button", { name: /渡辺 洋子/ }).waitFor();

  // Create: the temporary password is shown once, and the account appears in the list.
  await admin.page.getByRole("button", { name: "＋ アカウントを作成" }).click();
  const form = admin.page.getByRole("dialog", { name: "アカウントを作成" });
  await form.getByLabel("ログイン ID").fill(NEW_LOGIN);
  await form.getByLabel("氏名").fill(NEW_NAME);
  await form.getByLabel("ふりがな").fill("しけん はなこ");
  await form.getByLabel("職種").selectOption({ label: "看護師" });
  await form.getByLabel("所属事業所").selectOption({ label: "ひかり訪問看護ステーション" });
  await form.getByRole("button", { name: "作成する" }).click();
  const shown = admin.page.getByRole("dialog", { name: "仮パスワード" });
  const password = (await shown.locator("code").textContent()).trim();
  assert.match(password, /^[A-Za-z0-9]{16}$/, "a 16-character temporary password");
  await shown.getByText(NEW_LOGIN).waitFor();
  await shown.getByRole("button", { name: "控えました" }).click();
  await shown.waitFor({ state: "detached" });
  const created = list.getByRole("button", { name: new RegExp(NEW_NAME) });
  await created.waitFor();
  await created.getByText("要パスワード変更").waitFor();
  await created.getByText(/ひかり訪問看護ステーション/).waitFor();

  // The filter narrows the list to the new account (of the demo's ten professionals, the
  // parking lender 光明寺's account and the new one).
  await admin.page.getByLabel(/名前・かな・ログイン ID・事業所で絞り込み/).fill(NEW_LOGIN);
  await admin.page.getByText("1 件 / 全 12 件").waitFor();
  await admin.screenshot("users-filtered");
  await admin.page.getByLabel(/名前・かな・ログイン ID・事業所で絞り込み/).fill("");
  await admin.page.getByText("12 件 / 全 12 件").waitFor();
  await admin.screenshot("users");

  // helper1 is signed in on her phone with a live socket.
  const sockets = [];
  helper.page.on("websocket", (ws) => {
    if (ws.url().endsWith("/ws")) sockets.push(ws);
  });
  await signIn(helper, "helper1");
  await helper.page.getByRole("link", { name: /山田 太郎/ }).waitFor();
  await helper.page.waitForFunction(() => !document.querySelector(".banner.offline"));
  assert.ok(sockets.length >= 1, "the app opened its WebSocket");
  const live = sockets[sockets.length - 1];
  assert.equal(live.isClosed(), false);
  const closed = new Promise((resolve) => live.on("close", resolve));

  // Disabling asks for confirmation, then reports the ended session and closed socket.
  await list.getByRole("button", { name: /渡辺 洋子/ }).click();
  const sheet = admin.page.getByRole("dialog", { name: "渡辺 洋子 さん" });
  await sheet.getByRole("button", { name: "無効にする", exact: true }).click();
  await sheet.getByText(/すぐにサインアウトされ/).waitFor();
  await sheet.getByRole("button", { name: "無効にする（確定）" }).click();
  const notice = admin.page.getByRole("status").filter({ hasText: "無効にしました" });
  await notice.waitFor();
  const text = await notice.textContent();
  const [, sessions, connections] = text.match(/セッション (\d+) 件を終了、接続 (\d+) 件を切断/);
  assert.ok(Number(sessions) >= 1, `a session ended: ${text}`);
  assert.ok(Number(connections) >= 1, `a connection closed: ${text}`);
  await list.getByRole("button", { name: /渡辺 洋子/ }).getByText("無効", { exact: true }).waitFor();

  // Her phone: the socket is closed by the server and the app is back at sign-in, saying
  // why (the reason in the socket's close frame).
  await closed;
  await helper.page.getByLabel("ログイン ID").waitFor();
  await helper.page.getByRole("status").filter({ hasText: "このアカウントは管理者により停止されました" }).waitFor();
  await helper.page.getByRole("button", { name: "サインイン" }).waitFor();
  assert.equal(await helper.page.getByRole("link", { name: /山田 太郎/ }).count(), 0);
  await helper.screenshot("signed-out-after-disable");
  // And she cannot sign in again.
  await assert.rejects(signIn(helper, "helper1"), /sign-in of helper1 failed/);
});

test("the audit log shows the administrator's actions and a filter narrows it", async () => {
  const admin = await openDevice("admin-audit");
  await signIn(admin, "city1");
  await openAdmin(admin, "監査ログ");
  const log = admin.page.getByRole("list", { name: "監査ログ" });
  await log.getByText("admin.user.create").first().waitFor();
  await log.getByText("admin.user.disable").first().waitFor();
  const disabledRow = log.locator("li", { hasText: "admin.user.disable" }).first();
  await disabledRow.getByText("山本 剛（city1）").waitFor();
  await disabledRow.getByText("アカウント無効化").waitFor();
  const all = await log.locator("li").count();
  await admin.screenshot("audit");

  // Only disabling: fewer rows, every one of them a disable by city1.
  await admin.page.getByLabel("操作", { exact: true }).selectOption({ label: "アカウントの無効化" });
  await admin.page.getByLabel("操作した人").selectOption({ label: "山本 剛（city1）" });
  await admin.page.getByRole("button", { name: "絞り込む" }).click();
  await admin.page.getByText(/条件に合う記録 \d+ 件を表示中/).waitFor();
  const rows = log.locator("li");
  await admin.page.waitForFunction(
    () => [...document.querySelectorAll("ol.audit li")].every((li) => li.textContent.includes("admin.user.disable")),
  );
  const narrowed = await rows.count();
  assert.ok(narrowed >= 1 && narrowed < all, `filtered ${narrowed} of ${all}`);
  await admin.screenshot("audit-filtered");

  // A date range before today has nothing.
  await admin.page.getByLabel("開始日").fill("2001-01-01");
  await admin.page.getByLabel("終了日").fill("2001-12-31");
  await admin.page.getByRole("button", { name: "絞り込む" }).click();
  await admin.page.getByText("条件に合う記録 0 件を表示中").waitFor();

  // The CSV export carries the same filter (with the dates cleared again).
  await admin.page.getByLabel("開始日").fill("");
  await admin.page.getByLabel("終了日").fill("");
  await admin.page.getByRole("button", { name: "絞り込む" }).click();
  await admin.page.getByText(/条件に合う記録 [1-9]\d* 件を表示中/).waitFor();
  const link = admin.page.getByRole("link", { name: /CSV で出力/ });
  const href = await link.getAttribute("href");
  assert.match(href, /audit\.csv\?action=admin\.user\.disable&user_id=\d+$/);
  const csv = await (await admin.context.request.get(admin.url(href))).text();
  const lines = csv.trim().split(/\r\n/);
  assert.match(lines[0], /seq,at,user_id,municipality_id,action,target,detail,hash/);
  assert.equal(lines.length - 1, narrowed, "the CSV has the rows the screen shows");
  assert.ok(lines.slice(1).every((l) => l.includes(",admin.user.disable,")));
});

test("the statistics screen draws the demo's posts as bars", async () => {
  const admin = await openDevice("admin-stats");
  await signIn(admin, "city1");
  await openAdmin(admin, "アカウント");
  await switchTo(admin, "利用統計");
  const chart = admin.page.locator('svg[data-chart="chart-posts"]');
  await chart.locator("rect.bar").first().waitFor();
  const bars = await chart.locator("rect.bar").evaluateAll((rects) =>
    rects.map((r) => ({
      value: Number(r.dataset.value),
      height: r.getBoundingClientRect().height,
      title: r.querySelector("title")?.textContent ?? "",
    })),
  );
  assert.ok(bars.length >= 1);
  assert.ok(bars.every((b) => b.height > 0 && b.value > 0 && /件/.test(b.title)), JSON.stringify(bars));
  // The bars add up to what the server counts (the demo's 19 posts, and nothing more).
  const stats = await (
    await admin.context.request.get(admin.url("/api/admin/municipalities/demo/statistics?months=6"))
  ).json();
  const total = stats.months.reduce((n, m) => n + m.posts, 0);
  assert.equal(bars.reduce((n, b) => n + b.value, 0), total);
  assert.ok(total >= 19, `the demo posts are counted: ${total}`);
  // Accessible: a title and a description name the chart; axis labels are drawn.
  assert.equal(await chart.getAttribute("role"), "img");
  assert.match(await chart.locator("title").first().textContent(), /投稿数/);
  assert.ok((await chart.locator("text.axis").count()) >= 6 + 2);
  await admin.page.locator('svg[data-chart="chart-users"] rect.bar').first().waitFor();
  await admin.screenshot("statistics");
  // The same numbers as a table.
  await admin.page.getByText("数値を表で見る").click();
  await admin.page.getByRole("table").getByRole("rowheader").first().waitFor();
});
