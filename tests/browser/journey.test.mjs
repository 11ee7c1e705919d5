// The trainers' web page, driven in a real browser: Debian's headless Chromium with playwright-core.
// Needs SANDBOX_URL (a running sandbox); screenshots go to SCREENSHOT_DIR.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { launch, openPage } from "./support.mjs";

const base = process.env.SANDBOX_URL;
const shots = process.env.SCREENSHOT_DIR ?? "screenshots";
const patient = process.env.BROWSER_PATIENT ?? "9434761018";
const newPractice = process.env.BROWSER_AS ?? "A20047";
let browser, page;

before(async () => {
  assert.ok(base, "SANDBOX_URL must name a running sandbox");
  mkdirSync(shots, { recursive: true });
  browser = await launch();
  page = await openPage(browser, { width: 1600, height: 1000 }, base);
  await page.locator(`.patient[data-nhs="${patient}"]`).click();
  await page.selectOption("#new-practice", newPractice);
});

after(async () => {
  await browser?.close();
});

/** Status codes of the hops drawn for one service, in order. */
async function hopStatuses(service) {
  return page.locator(`#diagram .hop[data-service="${service}"]`)
    .evaluateAll((nodes) => nodes.map((n) => Number(n.getAttribute("data-status"))));
}

const MIGRATE = "urn:nhs:names:services:gpconnect:fhir:operation:gpc.migratestructuredrecord-1";

test("the page opens with a new practice that can receive the record, and refuses a pointless move", async () => {
  const fresh = await openPage(browser, { width: 1600, height: 1000 }, base);
  try {
    const card = fresh.locator('.patient[aria-pressed="true"]');
    await card.waitFor();
    const scenario = await (await fetch(base + "/_admin/scenario")).json();
    const chosen = scenario.patients.find((x) => x.nhs_number === "9690937286");
    for (const nhs of [await card.getAttribute("data-nhs"), chosen.nhs_number]) {
      await fresh.locator(`.patient[data-nhs="${nhs}"]`).click();
      const p = scenario.patients.find((x) => x.nhs_number === nhs);
      const as = await fresh.inputValue("#new-practice");
      const practice = scenario.practices.find((x) => x.ods === as);
      assert.notEqual(as, p.record_at, `${nhs}: the new practice is not where the record is`);
      assert.notEqual(as, p.registered_with, `${nhs}: nor where the patient is registered`);
      assert.ok(practice.provider && practice.interactions.includes(MIGRATE), `${nhs}: ${as} can migrate`);
      for (const b of ["#run-happy", "#run-norel", "#run-sensitive"]) assert.ok(await fresh.isEnabled(b), b);
    }
    await fresh.screenshot({ path: `${shots}/opened.png`, fullPage: true });
    // Moving the record to where it already is makes no sense.
    await fresh.selectOption("#new-practice", chosen.record_at);
    for (const b of ["#run-happy", "#run-norel", "#run-sensitive"]) assert.ok(await fresh.isDisabled(b), b);
    assert.match(await fresh.locator("#why-disabled").innerText(), /already holds this record/);
    await fresh.screenshot({ path: `${shots}/record-holder-chosen.png`, fullPage: true });
    // Skipping the registration change when PDS already names the new practice shows nothing.
    await fresh.selectOption("#new-practice", chosen.registered_with);
    assert.ok(await fresh.isEnabled("#run-happy"));
    assert.ok(await fresh.isDisabled("#run-norel"));
  } finally {
    await fresh.close();
  }
});

test("the happy-path button draws every hop, all accepted, and the record arrives", async () => {
  await page.click("#run-happy");
  await page.locator('#journey-result[data-result="received"]').waitFor();
  await page.locator('#diagram .hop[data-service="provider"]').first().waitFor();
  await page.screenshot({ path: `${shots}/happy-path.png`, fullPage: true });
  const pds = await hopStatuses("pds");
  assert.deepEqual(pds, [200, 200], "PDS trace and registration change");
  const sds = await hopStatuses("sds");
  assert.ok(sds.length >= 3 && sds.every((s) => s === 200), `SDS look-ups: ${sds}`);
  const ssp = await hopStatuses("ssp");
  const provider = await hopStatuses("provider");
  assert.ok(ssp.length >= 1 && ssp.every((s) => s === 200), `SSP hops: ${ssp}`);
  assert.deepEqual(provider, ssp, "each SSP hop reached the provider with the same status");
  const steps = await page.locator("#steps").innerText();
  assert.match(steps, /Migrate structured record — 200/);
});

test("clicking a hop shows its headers, decoded JWT and body", async () => {
  await page.locator('#diagram .hop[data-service="provider"]').first().click();
  const dialog = page.locator("#hop-dialog");
  await dialog.waitFor({ state: "visible" });
  const text = await dialog.innerText();
  assert.match(text, /JWT \(decoded\)/);
  assert.match(text, /requesting_organization/);
  assert.match(text, /ssp-traceid/i);
  await page.screenshot({ path: `${shots}/hop-details.png`, fullPage: true });
  await page.click("#hop-close");
});

test("after a reset, skipping the registration change is refused with NO_RELATIONSHIP", async () => {
  await page.click("#reset");
  await page.locator("#steps", { hasText: "reset" }).waitFor();
  await page.click("#run-norel");
  await page.locator('#journey-result[data-result="refused"]').waitFor().catch(async (e) => {
    await page.screenshot({ path: `${shots}/no-relationship-failed.png`, fullPage: true });
    throw new Error(`${e.message}\nresult shown: ${await page.locator("#result").innerText()}`);
  });
  await page.locator('#diagram .hop[data-service="provider"]').first().waitFor();
  await page.screenshot({ path: `${shots}/no-relationship.png`, fullPage: true });
  assert.match(await page.locator("#journey-result").innerText(), /NO_RELATIONSHIP/);
  assert.deepEqual(await hopStatuses("pds"), [200], "only the trace; no registration change");
  assert.deepEqual(await hopStatuses("provider"), [403]);
  const label = await page.locator('#diagram .hop[data-service="provider"] text').textContent();
  assert.match(label, /403 NO_RELATIONSHIP/);
});

test("a direct-care read of chosen areas: no registration change, a partial record that says what was asked", async () => {
  await page.click("#reset");
  await page.locator("#steps", { hasText: "reset" }).waitFor();
  for (const box of await page.locator('#retrieve-areas input[name="area"]').all()) {
    const want = ["allergies", "problems"].includes(await box.getAttribute("value"));
    if ((await box.isChecked()) !== want) await box.click();
  }
  await page.click("#run-retrieve");
  await page.locator('#journey-result[data-result="received"]').waitFor().catch(async (e) => {
    await page.screenshot({ path: `${shots}/retrieve-failed.png`, fullPage: true });
    throw new Error(`${e.message}\nresult shown: ${await page.locator("#result").innerText()}`);
  });
  await page.locator('#diagram .hop[data-service="provider"]').first().waitFor();
  assert.match(await page.locator("#journey-result").innerText(), /Part of the record read: .* allergies, problems/);
  assert.deepEqual(await hopStatuses("pds"), [200], "only the trace: direct care changes no registration");
  assert.deepEqual(await hopStatuses("provider"), [200]);
  const label = await page.locator('#diagram .hop[data-service="provider"] text').textContent();
  assert.match(label, /POST retrieve → 200/);
  assert.match(await page.locator("#steps").innerText(), /Retrieve structured record — 200/);
  const record = page.locator('#record.partial[data-areas="includeAllergies includeProblems"]');
  await record.waitFor();
  assert.match(await record.locator(".facts").innerText(), /Asked for\s+Allergies, Problems/);
  assert.match(await record.locator(".partial-note").innerText(), /only the areas asked for were sent \(not medication, consultations/);
  const sections = await record.locator("section[data-section]").evaluateAll((s) => s.map((x) => x.dataset.section));
  assert.ok(sections.includes("Allergies and adverse reactions") && sections.includes("Active problems"), sections.join());
  for (const left of ["Current medication", "Consultations", "Immunisations", "Referrals"]) assert.ok(!sections.includes(left), `${left} was not asked for`);
  await page.locator("#record-view").scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${shots}/retrieve-partial-record.png`, fullPage: true });
});
