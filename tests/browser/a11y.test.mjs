// Accessibility, checked by axe-core (the engine of Lighthouse and of the browsers'
// accessibility audits) in Chromium on a 390×844 phone: sign-in, home, a room, the composer
// with a draft and its 至急 / 要確認 choices, search with its hits, the settings (standard and large text), and the
// admin screens. None may have a serious or critical violation. Every violation found, of
// any impact, is written to `<artifacts>/axe-<screen>.json` for a person to read.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { openDevice, signIn, closeAll, artifactsDir, municipality } from "./lib/browser.mjs";

after(closeAll);

const require = createRequire(new URL("../node/package.json", import.meta.url));
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

/** Runs axe on the page as it is; fails on serious or critical violations. */
async function audit(device, name) {
  const { page } = device;
  // Through DevTools, not a <script>: the server's Content-Security-Policy allows 'self' only.
  if (!(await page.evaluate(() => typeof window.axe === "object"))) await page.evaluate(AXE);
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] },
      resultTypes: ["violations"],
    });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target, summary: n.failureSummary })),
    }));
  });
  writeFileSync(path.join(artifactsDir, `axe-${name}.json`), JSON.stringify(violations, null, 2));
  const bad = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(
    bad.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`),
    [],
    `${name}: serious or critical accessibility violations`,
  );
}

test("no serious or critical accessibility violation on the main screens", async () => {
  const nurse = await openDevice("a11y-nurse");
  await nurse.goto(`/${municipality}/`);
  await nurse.page.getByLabel("ログイン ID").waitFor();
  await audit(nurse, "sign-in");

  await signIn(nurse, "nurse1");
  await nurse.page.getByRole("link", { name: /山田 太郎 様/ }).waitFor();
  await audit(nurse, "home");

  await nurse.page.getByRole("link", { name: /山田 太郎 様/ }).click();
  await nurse.page.locator("article").first().waitFor();
  await audit(nurse, "room");

  await nurse.page.getByLabel("新しい投稿を書く").fill("確認をお願いします。");
  await nurse.page.getByText("確認をお願いする").click();
  await nurse.page.getByText("メンバーを指定").click();
  await audit(nurse, "composer");
  await nurse.page.getByLabel("新しい投稿を書く").fill("");

  await nurse.goto(`/${municipality}/search`);
  await nurse.page.getByLabel("検索する言葉").fill("体位変換");
  await nurse.page.getByLabel("検索する言葉").press("Enter");
  await nurse.page.locator("li.hit mark").first().waitFor();
  await audit(nurse, "search");

  await nurse.goto(`/${municipality}/settings`);
  await nurse.page.getByRole("switch", { name: "ロック画面に内容を表示する" }).waitFor();
  await audit(nurse, "settings");
  await nurse.page.getByRole("radio", { name: "大きい" }).click();
  await audit(nurse, "settings-large-text");

  const city = await openDevice("a11y-city");
  await signIn(city, "city1");
  await city.goto(`/${municipality}/admin`);
  await city.page.locator(".admin-menu a").first().waitFor();
  await audit(city, "admin-menu");
  const sections = await city.page.locator(".admin-menu a").evaluateAll((links) =>
    links.map((a) => a.getAttribute("href")),
  );
  assert.ok(sections.length >= 3, `admin menu has its sections: ${sections}`);
  for (const href of sections) {
    await city.goto(href);
    await city.page.locator("main.admin").waitFor();
    // Lists load from the API: audit what a person sees, not a loading line.
    await city.page.waitForFunction(() => !document.querySelector("main.admin")?.textContent.includes("読み込み中"));
    await audit(city, `admin-${href.split("/").filter(Boolean).slice(2).join("-") || "home"}`);
  }
});
