// 要援護者名簿 and its map (issue 16), as two visiting nurses designated responders use them on
// 390×844 phones, with the city's administrator declaring 災害モード over the API:
// - in normal times the list holds only the people who consented; filters by colour and a
//   search by kana narrow it; the rows are 44 px targets and the screen fits 390 px;
// - 災害モード declared: the banner and everyone else appear on the open screen, live;
// - nurse A marks a person 無事 on the card: nurse B's list shows it without a reload;
// - the map draws the people from this server's own tiles only (no other host is asked), a
//   marker opens the card with a call link;
// - the network drops: the register and the map open again from the device (list, markers,
//   kept tiles); a mark made offline waits as 未送信 and reaches the server and nurse B when
//   the network returns, with the time it was made;
// - signing out removes the kept register from the device.
// Screenshots at each step are kept as artifacts.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { openDevice, signIn, closeAll, apiSignIn, api, baseUrl } from "./lib/browser.mjs";

after(closeAll);

const REGISTER = "/api/register/demo";

async function fitsPhone(page, what) {
  const fits = await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
  assert.ok(fits, `${what} fits 390 px without scrolling sideways`);
}

/** The register screen from home's entry. */
async function openRegister(device) {
  const { page } = device;
  await page.getByRole("link", { name: /要援護者名簿/ }).first().click();
  await page.locator("li.register-row").first().waitFor();
}

function row(page, name) {
  return page.locator("li.register-row", { has: page.locator(".name", { hasText: name }) });
}

async function openCard(page, name) {
  await row(page, name).getByRole("button").click();
  const card = page.getByRole("dialog", { name: new RegExp(name) });
  await card.waitFor();
  return card;
}

async function mark(page, name, status, note) {
  const card = await openCard(page, name);
  await card.getByRole("radio", { name: new RegExp(status) }).click();
  if (note) await card.getByLabel("メモ（任意）").fill(note);
  await card.getByRole("button", { name: "記録する" }).click();
  return card;
}

test("responders list, filter, mark live, map from our own tiles, offline and back", async () => {
  const city = await apiSignIn("city1");
  // nurse1 and nurse2 are the city's designated responders.
  const staff = await api(city, `${REGISTER}/staff`);
  for (const login of ["佐藤 花子", "鈴木 美咲"]) {
    const s = staff.find((x) => x.display_name === login);
    assert.ok(s, `${login} is staff of the demo municipality`);
    await api(city, `${REGISTER}/staff/${s.user}`, { method: "PUT", body: { editor: s.editor, responder: true } });
  }
  const everyone = await api(city, `${REGISTER}/people`);
  const consented = everyone.filter((p) => p.consent);
  assert.ok(everyone.length >= 25, `the demo register has ~30 people (${everyone.length})`);
  assert.ok(consented.length < everyone.length, "some people did not consent");
  const located = (p) => p.location && p.phone;
  const target = consented.find((p) => p.label === "red" && located(p));
  const second = everyone.find((p) => !p.consent && located(p));
  assert.ok(target && second, "the demo has a red consenting person and one without consent, located");

  const a = await openDevice("nurseA");
  const b = await openDevice("nurseB");
  const requests = [];
  a.context.on("request", (r) => requests.push(r.url()));
  await signIn(a, "nurse1");
  const { page } = a;

  // Normal times: the consenting people only.
  await openRegister(a);
  assert.equal(await page.locator("li.register-row").count(), consented.length);
  assert.equal(await row(page, second.name).count(), 0, "no consent: not shown in normal times");
  const rowBox = await page.locator(".register-row-button").first().boundingBox();
  assert.ok(rowBox.height >= 44, "a row is a 44 px target");
  await fitsPhone(page, "the register list");
  await a.screenshot("register-normal");

  await page.getByRole("button", { name: "赤", exact: true }).click();
  const reds = consented.filter((p) => p.label === "red").length;
  assert.equal(await page.locator("li.register-row").count(), reds);
  assert.equal(await page.locator("li.register-row:not(.label-red)").count(), 0);
  await page.getByRole("button", { name: "すべて", exact: true }).click();
  await page.getByLabel("氏名・ふりがなで検索").fill(target.kana.split(/\s/)[0]);
  await row(page, target.name).waitFor();
  assert.ok((await page.locator("li.register-row").count()) < consented.length);
  await page.getByLabel("氏名・ふりがなで検索").fill("");

  // 災害モード: the open screen follows at once.
  await api(city, `${REGISTER}/disaster`, { method: "POST", body: { reason: "大雨による浸水（テスト）" } });
  await page.getByText("災害モード発令中").first().waitFor();
  await row(page, second.name).waitFor();
  assert.equal(await page.locator("li.register-row").count(), everyone.length);
  await page.getByRole("button", { name: /未確認/ }).first().waitFor();
  await a.screenshot("register-disaster");

  await signIn(b, "nurse2");
  await b.page.getByText("災害モード発令中").first().waitFor();
  await b.screenshot("home-disaster-banner");
  await openRegister(b);

  // Nurse A marks the person 無事; nurse B sees it without reloading.
  const card = await mark(page, target.name, "無事", "自宅で無事を確認");
  await card.locator(".status-line", { hasText: "無事" }).waitFor();
  const call = card.getByRole("link", { name: /電話する/ });
  assert.match(await call.getAttribute("href"), /^tel:\d+/);
  for (const b2 of await card.locator("button.mark").all()) {
    assert.ok((await b2.boundingBox()).height >= 44, "marking buttons are 44 px targets");
  }
  await a.screenshot("register-card-marked");
  await card.getByRole("button", { name: "閉じる" }).first().click();
  await row(b.page, target.name).locator(".status", { hasText: "無事" }).waitFor({ timeout: 10_000 });
  await b.screenshot("register-live-mark");

  // The map: our own tiles, markers, a marker opens the card.
  await page.getByRole("tab", { name: "地図" }).click();
  await page.locator(".rk-pin, .rk-cluster").first().waitFor();
  await page.locator("img.leaflet-tile-loaded").first().waitFor();
  const tileSrc = await page.locator("img.leaflet-tile").first().getAttribute("src");
  assert.ok(tileSrc.startsWith(`${baseUrl}/api/tiles/`) || tileSrc.startsWith("/api/tiles/"), tileSrc);
  await a.screenshot("register-map");
  await page.getByRole("tab", { name: "一覧" }).click();
  const again = await openCard(page, target.name);
  await again.getByRole("button", { name: "地図で見る" }).click();
  const pin = page.locator(`.rk-pin[title="${target.name}"]`);
  await pin.waitFor();
  // The label's colour, and the status as its badge.
  assert.match(await pin.getAttribute("class"), /\brk-red\b/);
  assert.match(await pin.getAttribute("class"), /\brk-status-safe\b/);
  assert.equal(await pin.locator(".rk-badge").textContent(), "✓");
  const colours = await page.evaluate(() =>
    [...document.querySelectorAll(".rk-pin")].map((p) => [p.title, [...p.classList].find((c) => /^rk-(red|yellow|blue)$/.test(c))]),
  );
  for (const [name, colour] of colours) {
    const person = everyone.find((p) => p.name === name);
    assert.equal(colour, `rk-${person.label}`, `${name}'s marker is ${person.label}`);
  }
  await page.locator(`.rk-pin[title="${target.name}"]`).click();
  await page.getByRole("dialog", { name: new RegExp(target.name) }).waitFor();
  await page.getByRole("dialog").getByRole("button", { name: "閉じる" }).first().click();
  const foreign = requests.filter((u) => !u.startsWith(baseUrl) && !u.startsWith("data:") && !u.startsWith("blob:"));
  assert.deepEqual(foreign, [], "the app asked no other host");

  // What the device keeps for offline: the map library and tiles (service worker caches).
  await page.waitForFunction(async () => {
    const tiles = await caches.open("renraku-tiles");
    const keys = await tiles.keys();
    const names = await caches.keys();
    const map = names.find((n) => n.startsWith("renraku-map-"));
    if (keys.length === 0 || !map) return false;
    // Every file of the library, map.js (which loads the rest) included: the device keeps
    // them in parallel, so a count can be reached while one is still on its way.
    const kept = (await (await caches.open(map)).keys()).map((r) => new URL(r.url).pathname);
    return ["/map/map.js", "/map/leaflet.js", "/map/leaflet.css", "/map/leaflet.markercluster.js", "/map/MarkerCluster.css"]
      .every((f) => kept.includes(f));
  }, null, { timeout: 30_000 });

  // The network drops: the register opens from the device; a mark waits.
  await a.setOnline(false);
  await page.reload();
  await row(page, target.name).waitFor();
  await page.getByText("オフライン：端末に保存された名簿を表示しています。").waitFor();
  await row(page, target.name).locator(".status", { hasText: "無事" }).waitFor();
  const before = Date.now();
  await mark(page, second.name, "要支援", "酸素残量わずか");
  await row(page, second.name).getByText("未送信").waitFor();
  await page.getByRole("dialog").getByRole("button", { name: "閉じる" }).first().click();
  await page.getByRole("tab", { name: "地図" }).click();
  await page.locator(".rk-pin, .rk-cluster").first().waitFor();
  await page.waitForFunction(() =>
    [...document.querySelectorAll("img.leaflet-tile")].some((i) => i.complete && i.naturalWidth > 0),
  );
  await a.screenshot("register-offline-map");
  await page.getByRole("tab", { name: "一覧" }).click();

  // Back online: the mark goes out with the time it was made, and reaches nurse B.
  await a.setOnline(true);
  await row(page, second.name).getByText("未送信").waitFor({ state: "detached", timeout: 20_000 });
  await row(b.page, second.name).locator(".status", { hasText: "要支援" }).waitFor({ timeout: 10_000 });
  const detail = await api(city, `${REGISTER}/people/${second.id}`);
  const stored = detail.marks.find((m) => m.note === "酸素残量わずか");
  assert.ok(stored, "the offline mark is stored");
  assert.equal(stored.status, "needs_support");
  assert.equal(stored.by_name, "佐藤 花子");
  assert.ok(stored.marked_at >= before - 60_000 && stored.marked_at <= stored.received_at, "made before it was received");
  await b.screenshot("register-offline-mark-arrived");

  // Signing out removes the kept register with the rest of the user's data.
  await page.getByRole("button", { name: "戻る" }).click();
  await page.getByRole("button", { name: "設定" }).click();
  await page.getByRole("region", { name: "サインアウト" }).getByRole("button", { name: "サインアウト" }).click();
  await page.getByLabel("パスワード").waitFor();
  const dbs = await page.evaluate(async () => (await indexedDB.databases()).map((d) => d.name));
  assert.ok(!dbs.some((n) => n.startsWith("renraku-demo-")), `no user database is left: ${dbs}`);
});

test("the city's staff register a person, then place the pin by tapping the map", async () => {
  const city = await openDevice("city");
  const { page } = city;
  await signIn(city, "city1");
  await openRegister(city);
  await page.getByRole("tab", { name: "管理" }).click();
  await page.getByRole("button", { name: "＋ 新しく登録" }).click();
  const form = page.getByRole("dialog", { name: "新しく登録" });
  await form.getByLabel("氏名（必須）").fill("試験 ハナ");
  await form.getByLabel("ふりがな（必須）").fill("しけん はな");
  await form.getByLabel("在宅酸素", { exact: true }).check();
  await form.getByLabel("在宅酸素の詳細").fill("2L/分");
  await form.getByLabel("平常時の情報提供に同意している").check();
  await city.screenshot("register-new-entry");
  await form.getByRole("button", { name: "保存する" }).click();
  await page.getByText("保存しました。").waitFor();
  const token = await apiSignIn("city1");
  const created = (await api(token, `${REGISTER}/people?q=${encodeURIComponent("しけん はな")}`))[0];
  assert.ok(created, "the entry is on the register");
  assert.deepEqual(created.reasons, [{ kind: "home_oxygen", detail: "2L/分" }]);
  assert.equal(created.location, null);

  // Without a location the person is on the list only; the pin goes where the map is tapped.
  await page.getByRole("tab", { name: "一覧" }).click();
  const card = await openCard(page, "試験 ハナ");
  await card.getByRole("button", { name: "地図にピンを置く" }).click();
  await page.getByText("試験 ハナ 様の位置を地図上でタップしてください。").waitFor();
  const map = page.locator("#register-map");
  await map.locator(".leaflet-tile-loaded").first().waitFor();
  // Zoomed in around the people (the view's centre stays among them), a tap on open ground
  // near the centre; a tap on a marker opens its card instead, so a few spots are tried.
  for (let i = 0; i < 2; i++) {
    await page.getByRole("button", { name: "Zoom in" }).click();
    await page.waitForTimeout(400);
  }
  const box = await map.boundingBox();
  const place = page.getByRole("button", { name: "ここに置く" });
  for (const [dx, dy] of [[0, 0], [-40, 30], [40, -30], [40, 40], [-40, -40], [0, 60], [60, 0]]) {
    await page.mouse.click(box.x + box.width / 2 + dx, box.y + box.height / 2 + dy);
    if (await place.waitFor({ timeout: 1500 }).then(() => true, () => false)) break;
    await page.getByRole("dialog").getByRole("button", { name: "閉じる" }).first().click().catch(() => {});
  }
  await place.click();
  await page.getByText("ピンの位置を保存しました。").waitFor();
  await page.locator('.rk-pin[title="試験 ハナ"], .rk-cluster').first().waitFor();
  await city.screenshot("register-pin-placed");
  const placed = await api(token, `${REGISTER}/people/${created.id}`);
  const tiles = await api(token, "/api/tiles");
  const [w, s, e, n] = tiles.bounds;
  const { latitude, longitude } = placed.person.location;
  assert.ok(latitude > s && latitude < n && longitude > w && longitude < e, "the pin is inside the demo map");
});
