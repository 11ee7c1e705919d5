// The conformance panel and the record view, driven in headless Chromium. Needs SANDBOX_URL;
// screenshots go to SCREENSHOT_DIR.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { launch, openPage } from "./support.mjs";

const base = process.env.SANDBOX_URL;
const shots = process.env.SCREENSHOT_DIR ?? "screenshots";
let browser, page;

before(async () => {
  assert.ok(base, "SANDBOX_URL must name a running sandbox");
  mkdirSync(shots, { recursive: true });
  browser = await launch();
  page = await openPage(browser, { width: 1600, height: 1000 }, base);
  await page.click("#reset");
  await page.locator('.patient[data-nhs="9434761018"]').click();
  await page.selectOption("#new-practice", "A20047");
});

// Leave the sandbox as found: the other page tests expect the scenario's registrations.
after(async () => {
  await page?.request.post(base + "/_admin/reset");
  await browser?.close();
});

test("after a journey, the consumer's panel shows no check failed, each openable to its hops", async () => {
  await page.click("#run-happy");
  await page.locator('#journey-result[data-result="received"]').waitFor();
  const panel = page.locator('#conformance .consumer[data-ods="A20047"]');
  await panel.waitFor();
  const statuses = await panel.locator(".check").evaluateAll((n) => n.map((x) => x.getAttribute("data-status")));
  assert.ok(statuses.length >= 20, `checks: ${statuses}`);
  // Checks of what a happy journey never does (retries) are not reached, never passed.
  assert.ok(statuses.every((s) => s === "pass" || s === "not_reached"), `statuses: ${statuses}`);
  assert.ok(statuses.filter((s) => s === "pass").length >= 20, `statuses: ${statuses}`);
  await page.screenshot({ path: `${shots}/conformance-panel.png`, fullPage: true });
  await panel.locator('.check[data-check="pds.trace-before-change"]').click();
  const hops = page.locator("#check-entries .check-hop");
  await hops.first().waitFor();
  assert.match(await hops.first().innerText(), /PDS GET/);
  await page.screenshot({ path: `${shots}/conformance-check.png` });
  await hops.first().click();
  await page.locator("#hop-dialog").waitFor({ state: "visible" });
  assert.match(await page.locator("#hop-title").innerText(), /PDS GET/);
  await page.click("#hop-close");
});

test("the record view shows the Bundle as a clinician reads it, withheld items noted", async () => {
  const record = page.locator("#record");
  await record.waitFor();
  const text = await record.innerText();
  for (const heading of ["Active problems", "Current medication", "Allergies", "Immunisations", "Consultations", "Investigations and results", "Referrals", "Documents"]) {
    assert.match(text, new RegExp(heading), heading);
  }
  assert.match(text, /943 476 1018/, "the NHS number as the NHS prints it");
  assert.match(text, /withheld as confidential/);
  const href = await record.locator("a.open-document").first().getAttribute("href");
  const resp = await page.request.get(base + href);
  assert.equal(resp.status(), 200, "a listed document opens");
  await record.screenshot({ path: `${shots}/record-view.png` });
});

test("asking for sensitive information marks the included confidential items", async () => {
  await page.click("#run-sensitive");
  await page.locator('#journey-result[data-result="received"]').waitFor();
  await page.locator("#record .flag").first().waitFor();
  assert.doesNotMatch(await page.locator("#record").innerText(), /withheld as confidential/);
  await page.locator("#record").screenshot({ path: `${shots}/record-view-sensitive.png` });
});
