// 駐車場 (issue 17), the city's and the lender's screens, on a 390×844 phone and a 1280 px
// desktop:
// - 中村 (city2, the demo's parking manager) opens 「駐車場の管理」 from home, registers a lender,
//   then a space for it with a photo (previewed before it is sent, shown after), gives it
//   Mon–Fri 9:00–17:00 in one go (weekday checkboxes + times), approves an organisation,
//   sees the demo's bookings (organisation and plate, and no patient's name anywhere on the
//   page), and the statistics as a bar chart with its table;
// - the demo lender (lender1, 光明寺) opens 「貸している駐車場」, pauses a space after a
//   confirmation that names how many bookings are ahead, resumes it, and reports a trouble,
//   which the city reads under トラブル報告.
// Every step is checked against the API too. Screenshots at each step are kept as artifacts.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { openDevice, signIn, closeAll, apiSignIn, api, artifactsDir } from "./lib/browser.mjs";

after(closeAll);

const P = "/api/parking/demo";
/** The demo's patients (server/src/demo.rs): none may appear on a parking screen. */
const PATIENTS = ["山田 太郎", "小林 キヨ", "加藤 正男", "吉田 トミ", "松本 茂"];

async function fitsPhone(page, what) {
  const fits = await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
  assert.ok(fits, `${what} fits 390 px without scrolling sideways`);
}

/** Every visible button and link in `main` is at least 44 px high (a thumb's target). */
async function targetsAre44(page, what) {
  const small = await page.evaluate(() =>
    [...document.querySelectorAll("main button, main a, main select, main input:not([type=checkbox]):not([type=radio]):not([type=file])")]
      .filter((el) => el.offsetParent !== null)
      .map((el) => ({ text: (el.textContent || el.getAttribute("aria-label") || el.name || "").trim(), h: el.getBoundingClientRect().height }))
      .filter((t) => t.h < 43.5),
  );
  assert.deepEqual(small, [], `${what}: every target is 44 px high`);
}

/** A screenshot of what the screen shows (not the whole page), `locator` scrolled to its top. */
async function view(device, label, locator) {
  if (locator) await locator.evaluate((el) => el.scrollIntoView({ block: "start" }));
  await device.page.screenshot({ path: path.join(artifactsDir, `view-${device.name}-${label}.png`) });
}

async function noPatients(page, what) {
  const text = await page.locator("body").innerText();
  for (const name of PATIENTS) assert.ok(!text.includes(name), `${what} names no patient (${name})`);
}

/** A real JPEG, drawn by the browser itself. */
async function photo(page) {
  const base64 = await page.evaluate(() => {
    const canvas = document.createElement("canvas");
    canvas.width = 160;
    canvas.height = 120;
    const g = canvas.getContext("2d");
    g.fillStyle = "#7a8a99";
    g.fillRect(0, 0, 160, 120);
    g.fillStyle = "#fff";
    g.fillRect(20, 70, 120, 8);
    g.fillRect(76, 20, 8, 50);
    return canvas.toDataURL("image/jpeg", 0.9).split(",")[1];
  });
  return Buffer.from(base64, "base64");
}

async function imageLoaded(page, locator) {
  await locator.waitFor();
  await page.waitForFunction((el) => el.complete && el.naturalWidth > 0, await locator.elementHandle());
}

async function section(page, name) {
  await page.locator("nav.parking-sections").getByRole("link", { name, exact: true }).click();
  await page.locator("section.parking-section h2", { hasText: name }).first().waitFor();
}

test("the city registers a lender and a space with hours and a photo, approves, sees bookings and statistics; a lender pauses a space", async () => {
  const token = await apiSignIn("city2");
  const before = await api(token, `${P}/spaces`);

  const city = await openDevice("city2");
  await signIn(city, "city2");
  const { page } = city;
  await page.getByRole("link", { name: "🅿 駐車場の管理" }).click();
  await page.locator("li.parking-item").first().waitFor();
  assert.equal(await page.locator("li.parking-item").count(), before.length, "every space is listed");
  await fitsPhone(page, "the spaces");
  await city.screenshot("spaces");
  await view(city, "spaces");

  // 貸主: a new lender told by phone.
  await section(page, "貸主");
  await page.getByRole("button", { name: "＋ 貸主を登録" }).click();
  await page.locator('input[name="lender-name"]').fill("テスト寺");
  await page.locator('input[name="lender-contact"]').fill("03-9999-0000");
  await page.getByRole("radio", { name: "電話" }).check();
  await city.screenshot("lender-form");
  await page.getByRole("button", { name: "保存", exact: true }).click();
  await page.locator("li.parking-item", { hasText: "テスト寺" }).waitFor();
  const lender = (await api(token, `${P}/lenders`)).find((l) => l.name === "テスト寺");
  assert.ok(lender && lender.notify_by === "phone" && lender.contact === "03-9999-0000", "the lender is stored");
  await targetsAre44(page, "the lenders");

  // 駐車場: a space of that lender, with a photo previewed before it is sent.
  await section(page, "駐車場");
  await page.getByRole("button", { name: "＋ 駐車場を登録" }).click();
  await page.locator('select[name="space-lender"]').selectOption({ label: "テスト寺" });
  await page.locator('input[name="space-name"]').fill("テスト寺 駐車場");
  await page.locator('input[name="space-address"]').fill("デモ市本町9-9-9");
  // The pin is placed by tapping the form's map (the town's own tiles); the numbers follow.
  const map = page.locator("#parking-map");
  await map.locator(".leaflet-tile-loaded").first().waitFor();
  await map.click({ position: { x: 120, y: 90 } });
  await map.locator(".rk-space.rk-selected").waitFor();
  const tapped = [
    Number(await page.locator('input[name="space-lat"]').inputValue()),
    Number(await page.locator('input[name="space-lon"]').inputValue()),
  ];
  assert.ok(Math.abs(tapped[0] - 35.7) < 0.1 && Math.abs(tapped[1] - 139.7) < 0.1, `a tap inside the town: ${tapped}`);
  // Typed numbers (from another map) are kept as typed.
  await page.locator('input[name="space-lat"]').fill("35.7012");
  await page.locator('input[name="space-lon"]').fill("139.7013");
  await page.getByRole("checkbox", { name: "軽自動車のみ" }).check();
  await page.locator('input[name="space-limits-note"]').fill("高さ2.0mまで");
  await page.locator('textarea[name="space-directions"]').fill("本堂の裏、白線の内側に。");
  await page.locator("#parking-space-photo").setInputFiles({ name: "space.jpg", mimeType: "image/jpeg", buffer: await photo(page) });
  await imageLoaded(page, page.getByRole("img", { name: "選んだ写真" }));
  await fitsPhone(page, "the space form");
  await city.screenshot("space-form");
  await view(city, "space-form", page.locator("form.parking-form"));
  await page.getByRole("button", { name: "保存", exact: true }).click();
  const card = page.locator("li.parking-item", { hasText: "テスト寺 駐車場" });
  await imageLoaded(page, card.getByRole("img", { name: "テスト寺 駐車場 の写真" }));
  const space = (await api(token, `${P}/spaces`)).find((s) => s.name === "テスト寺 駐車場");
  assert.ok(space, "the space is stored");
  assert.equal(space.lender, lender.id);
  assert.deepEqual(space.limits, ["kei_only"]);
  assert.equal(space.photo?.mime, "image/jpeg", "its photo is stored");
  assert.equal(space.photo.width, 160);
  await city.screenshot("space-added");
  await view(city, "space-added", card);

  // 利用可能時間: Mon–Fri 9:00–17:00 in one go (the weekdays are checked to start with).
  await card.getByRole("button", { name: "利用可能時間" }).click();
  await page.locator("table.week").waitFor();
  for (const day of ["月", "火", "水", "木", "金"]) {
    assert.ok(await page.getByRole("checkbox", { name: day, exact: true }).isChecked(), `${day} is checked`);
  }
  await page.locator('input[name="hours-start"]').fill("09:00");
  await page.locator('input[name="hours-end"]').fill("17:00");
  await page.getByRole("button", { name: "追加", exact: true }).click();
  await page.getByRole("status").filter({ hasText: "保存しました" }).waitFor();
  const week = page.locator("table.week");
  for (const day of ["月", "火", "水", "木", "金"]) {
    await week.locator("tr", { has: page.locator("th", { hasText: day }) }).getByText("9:00–17:00").waitFor();
  }
  assert.match(await week.locator("tr", { has: page.locator("th", { hasText: "土" }) }).innerText(), /なし/);
  const hours = (await api(token, `${P}/spaces/${space.id}`)).availability.weekly;
  assert.deepEqual(
    hours.map((w) => `${w.weekday} ${w.start_min}-${w.end_min}`).sort(),
    ["fri 540-1020", "mon 540-1020", "thu 540-1020", "tue 540-1020", "wed 540-1020"],
  );
  await fitsPhone(page, "the hours");
  await targetsAre44(page, "the hours");
  await city.screenshot("hours");
  await view(city, "hours", page.locator(".week-editor"));
  await view(city, "hours-add", page.locator("fieldset.add-hours").first());

  // 事業所の承認: あおば薬局 is not approved in the demo.
  await section(page, "事業所の承認");
  const pharmacy = page.locator("li.parking-item", { hasText: "あおば薬局" });
  await pharmacy.getByText("未承認").waitFor();
  await pharmacy.getByRole("button", { name: "あおば薬局 を承認する" }).click();
  await pharmacy.getByText("承認済み").waitFor();
  const approved = await api(token, `${P}/organizations`);
  assert.ok(approved.some((o) => o.name === "あおば薬局"), "the approval is stored");
  await targetsAre44(page, "the approvals");
  await city.screenshot("approvals");
  await view(city, "approvals");

  // 予約: the demo's bookings of the coming days: organisation and plate, never a patient.
  await section(page, "予約");
  const booking = page.locator("li.booking", { hasText: "ひかり訪問看護ステーション" }).first();
  await booking.waitFor();
  assert.match(await booking.innerText(), /デモ 500 さ 10-0[12]/, "the plate is shown");
  await noPatients(page, "the bookings");
  await fitsPhone(page, "the bookings");
  await city.screenshot("bookings");
  await view(city, "bookings", booking);

  // 利用統計: one bar per space, some of them long, with labelled axes and a table.
  await section(page, "利用統計");
  const chart = page.locator("figure.chart svg[role=img]");
  await chart.waitFor();
  assert.match(await chart.getAttribute("aria-label"), /予約件数/);
  const bars = chart.locator("rect.bar");
  assert.equal(await bars.count(), before.length + 1, "a bar per space");
  const widths = await bars.evaluateAll((rs) => rs.map((r) => Number(r.getAttribute("width"))));
  assert.ok(widths.some((w) => w > 0), `some bars have bookings (${widths})`);
  await chart.getByText("予約件数（件）").waitFor();
  await page.getByText("表で見る（すべての月）").click();
  await page.locator("details.chart-table table").waitFor();
  await fitsPhone(page, "the statistics");
  await city.screenshot("statistics");
  await view(city, "statistics", page.locator("figure.chart"));
  await noPatients(page, "the statistics");

  // The same screens on a desktop.
  const desk = await openDevice("city2-desktop", {
    viewport: { width: 1280, height: 900 },
    screen: { width: 1280, height: 900 },
    deviceScaleFactor: 1,
    isMobile: false,
    hasTouch: false,
  });
  await signIn(desk, "city2");
  await desk.goto("/demo/parking/city/spaces");
  await desk.page.locator("li.parking-item").first().waitFor();
  await desk.screenshot("spaces-desktop");
  await view(desk, "spaces");
  await desk.goto(`/demo/parking/city/availability/${space.id}`);
  await desk.page.locator("table.week").waitFor();
  await desk.screenshot("hours-desktop");
  await view(desk, "hours");
  await desk.goto("/demo/parking/city/statistics");
  await desk.page.locator("figure.chart svg").waitFor();
  await desk.screenshot("statistics-desktop");
  await view(desk, "statistics");

  // The lender: 光明寺's account pauses its first space, told how many bookings are ahead.
  const lenderToken = await apiSignIn("lender1");
  const mine = await api(lenderToken, `${P}/spaces`);
  const first = mine.find((s) => s.name === "光明寺 境内駐車場 1番");
  assert.ok(first && !first.paused, "光明寺's first space is open");
  const now = Date.now();
  const ahead = (await api(lenderToken, `${P}/spaces/${first.id}/bookings?from=${now}&to=${now + 400 * 86400000}`))
    .filter((b) => b.status === "booked" && b.end > now);
  const l = await openDevice("lender1");
  await signIn(l, "lender1");
  await l.page.getByRole("link", { name: "🅿 貸している駐車場" }).click();
  const item = l.page.locator("li.parking-item", { hasText: "光明寺 境内駐車場 1番" });
  await item.waitFor();
  assert.equal(await l.page.locator("li.parking-item").count(), mine.length, "the lender's spaces only");
  if (ahead.length > 0) {
    await item.getByText(ahead[0].plate).first().waitFor();
    await item.getByText(ahead[0].organization_name).first().waitFor();
  }
  await noPatients(l.page, "the lender's screen");
  await fitsPhone(l.page, "the lender's screen");
  await l.screenshot("lender");
  await item.getByRole("button", { name: "休止する…" }).click();
  const confirm = item.getByRole("alertdialog");
  await confirm.waitFor();
  if (ahead.length > 0) {
    assert.match(await confirm.innerText(), new RegExp(`この先の予約が ${ahead.length} 件あります`));
  } else {
    assert.match(await confirm.innerText(), /この先の予約はありません/);
  }
  await l.screenshot("lender-confirm");
  await view(l, "lender-confirm", item);
  await confirm.getByRole("button", { name: "休止する", exact: true }).click();
  // The tag, exactly: the confirmation's own text says 休止中は… while the request is on its way.
  await item.getByText("休止中", { exact: true }).waitFor();
  assert.equal((await api(lenderToken, `${P}/spaces/${first.id}`)).paused, true, "the pause is stored");
  await l.screenshot("lender-paused");
  await item.getByRole("button", { name: "再開する" }).click();
  await item.getByText("受付中", { exact: true }).waitFor();
  assert.equal((await api(lenderToken, `${P}/spaces/${first.id}`)).paused, false, "resumed");

  // The lender reports a trouble; the city reads it under トラブル報告, newest first.
  const report = "予約のない車が朝から停まっていました。";
  await item.getByRole("button", { name: "トラブルを報告…" }).click();
  await item.locator('textarea[name="trouble-body"]').fill(report);
  await item.getByRole("button", { name: "市に送る" }).click();
  await item.getByRole("status").filter({ hasText: "市に報告しました" }).waitFor();
  await section(page, "トラブル報告");
  const trouble = page.locator("li.parking-item").first();
  await trouble.getByText(report).waitFor();
  assert.match(await trouble.innerText(), /貸主/);
  assert.match(await trouble.innerText(), /光明寺 境内駐車場 1番/);
  await view(city, "troubles");
});
