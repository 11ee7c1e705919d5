// The provider check on the page, driven in headless Chromium: run it for the default scenario's
// provider B82617 and read each check's verdict, rule, NHS source and journal hops. Needs
// SANDBOX_URL; screenshots go to SCREENSHOT_DIR.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { launch, openPage, overflowing, accessibilityProblems } from "./support.mjs";

const base = process.env.SANDBOX_URL;
const shots = process.env.SCREENSHOT_DIR ?? "screenshots";
let browser;

before(async () => {
  assert.ok(base, "SANDBOX_URL must name a running sandbox");
  mkdirSync(shots, { recursive: true });
  browser = await launch();
});

// The check puts back every registration it changes; reset all the same for the other tests.
after(async () => {
  await fetch(base + "/_admin/reset", { method: "POST" });
  await browser?.close();
});

test("the provider check of B82617 runs from the page: every check passes or is not reached, each with rule, source and hops", async () => {
  const page = await openPage(browser, { width: 1440, height: 900 }, base);
  const select = page.locator("#check-practice");
  await page.locator('#check-practice option[value="B82617"]').waitFor({ state: "attached" });
  // Only providers are offered: not the assurance consumer, not a practice without GP Connect.
  const offered = await select.locator("option").evaluateAll((o) => o.map((x) => x.value));
  assert.ok(!offered.includes("GPCA0001") && !offered.includes("C81616"), `offered: ${offered}`);
  await select.selectOption("B82617");
  await page.click("#run-provider-check");
  const summary = page.locator("#provider-check-summary");
  await summary.waitFor({ timeout: 60000 });
  assert.equal(await summary.getAttribute("data-failed"), "0", await summary.innerText());
  assert.match(await summary.innerText(), /B82617, asked as A20047: 10 passed, 0 failed, 1 not reached/);
  const checks = page.locator(".pc-check");
  const statuses = await checks.evaluateAll((n) => n.map((x) => `${x.dataset.check}=${x.dataset.status}`));
  assert.equal(statuses.length, 11, `${statuses}`);
  assert.ok(statuses.includes("provider-read-pds=not_reached"), `${statuses}`);
  assert.equal(statuses.filter((s) => s.endsWith("=pass")).length, 10, `${statuses}`);

  const record = page.locator('.pc-check[data-check="record-without-sensitive"]');
  await record.locator("summary").click();
  const text = await record.innerText();
  assert.match(text, /Rule: With includeSensitiveInformation false/);
  assert.match(text, /NHS source: https:\/\/github\.com\/nhsconnect\/gpconnect-provider-testing/);
  assert.match(text, /labelled NOPAT/);
  const hops = await record.locator(".pc-hops li").allInnerTexts();
  assert.ok(hops.some((h) => /^ssp POST .*\$gpc\.migratestructuredrecord -> 200$/.test(h)), `${hops}`);
  assert.ok(hops.some((h) => /^provider POST .* -> 200$/.test(h)), `${hops}`);
  await page.locator('.pc-check[data-check="no-relationship"] summary').click();
  await page.screenshot({ path: `${shots}/provider-check.png`, fullPage: true });
  await page.locator("#provider-check").screenshot({ path: `${shots}/provider-check-panel.png` });

  assert.deepEqual(await overflowing(page), []);
  assert.deepEqual(await accessibilityProblems(page), []);
  await page.close();
});

test("the provider check fits a phone's screen", async () => {
  const page = await openPage(browser, { width: 390, height: 844 }, base);
  await page.locator('#check-practice option[value="B82617"]').waitFor({ state: "attached" });
  await page.click("#run-provider-check");
  await page.locator("#provider-check-summary").waitFor({ timeout: 60000 });
  await page.locator('.pc-check[data-check="migrate-documents"] summary').click();
  assert.deepEqual(await overflowing(page), []);
  await page.locator("#provider-check").screenshot({ path: `${shots}/provider-check-phone.png` });
  await page.close();
});
