// The trainers' page on scenarios/training.yaml: every title and banner true for its three
// patients, the paths it has no patient for disabled with the true reason. Needs TRAINING_URL (a
// sandbox serving training.yaml); screenshots go to SCREENSHOT_DIR.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { SIZES, launch, openPage, overflowing, accessibilityProblems, INTERNAL_TEXT } from "./support.mjs";

const base = process.env.TRAINING_URL;
const shots = process.env.SCREENSHOT_DIR ?? "screenshots";
let browser;

before(async () => {
  assert.ok(base, "TRAINING_URL must name a sandbox serving scenarios/training.yaml");
  mkdirSync(shots, { recursive: true });
  browser = await launch();
});

after(async () => {
  await fetch(base + "/_admin/reset", { method: "POST" });
  await browser?.close();
});

const OLD = "Elm Tree Surgery \\(Y05813\\)", NEW = "Canal Side Medical Centre \\(Y05814\\)";
const PATHS = {
  happy: { title: `Ms Chloe Bennett: moving the record from ${OLD} to ${NEW}`, result: "received",
    banner: `Record received: ${NEW} now has Ms Chloe Bennett's record from ${OLD}` },
  norel: { title: `Ms Chloe Bennett: moving the record from ${OLD} to ${NEW}`, result: "refused",
    banner: `${OLD} refused: PDS does not name ${NEW} as the GP practice`, code: "NO_RELATIONSHIP" },
  sensitive: { title: `Mr Ethan Hughes: moving the record from ${OLD} to ${NEW}`, result: "refused",
    banner: `${OLD} answered “patient not found”.*restricted \\(sensitive\\)`, code: "PATIENT_NOT_FOUND" },
  outage: { title: `Ms Chloe Bennett: moving the record from ${OLD} to ${NEW}`, result: "failed",
    banner: `${OLD}'s system did not answer`, code: "ERROR_COMMUNICATING_TO_ENDPOINT_URL" },
};
const UNAVAILABLE = { deceased: "No patient here has died.", "no-gpc": "Every practice holding a record here is on GP Connect." };

for (const size of [SIZES[0], SIZES[1]]) {
  test(`training.yaml at ${size.name}: Rose opens as joining Canal Side; every path true`, async () => {
    await fetch(base + "/_admin/reset", { method: "POST" });
    const page = await openPage(browser, size, base);
    try {
      await page.locator('.path[data-path="happy"]:not([disabled])').waitFor();
      for (const [id, why] of Object.entries(UNAVAILABLE)) {
        const b = page.locator(`.path[data-path="${id}"]`);
        assert.ok(await b.isDisabled(), `${id} is disabled`);
        assert.match(await b.innerText(), new RegExp(why), `${id}: the reason`);
      }
      // Rose has already registered at Canal Side: she joins it, she does not leave it.
      if (size.width < 720) await page.locator("#patients-box > summary").click();
      await page.click('.patient[data-nhs="9434761107"]');
      assert.match(await page.locator("#journey-title").innerText(), new RegExp(`Mrs Rose Taylor: moving the record from ${OLD} to ${NEW}`));
      assert.match(await page.locator("#journey-sub").innerText(), new RegExp(`PDS names ${NEW} as the GP practice; the record is held by ${OLD}`));
      assert.ok(await page.isDisabled("#run-norel"));
      assert.match(await page.locator("#why-disabled").innerText(), /PDS already names Canal Side Medical Centre \(Y05814\)/);
      await page.screenshot({ path: `${shots}/training-${size.name}-rose.png` });
      await page.click("#run-happy");
      await page.locator('#journey-result[data-result="received"]').waitFor();
      assert.match((await page.locator("#journey-result").innerText()).replace(/\s+/g, " "),
        new RegExp(`Record received: ${NEW} now has Mrs Rose Taylor's record from ${OLD}`));
      // Ethan is restricted: PDS hides his practice, so skipping the change is offered.
      await page.click('.patient[data-nhs="9434761115"]');
      assert.match(await page.locator("#journey-sub").innerText(), /PDS hides this patient's GP practice/);
      assert.ok(await page.isEnabled("#run-norel"), "skipping the change is offered for a restricted patient");
      for (const [id, want] of Object.entries(PATHS)) {
        await page.click(`.path[data-path="${id}"]`);
        await page.locator(`#journey-result[data-result="${want.result}"]`).waitFor();
        await page.locator(".path:not([disabled])").first().waitFor();
        assert.match(await page.locator("#journey-title").innerText(), new RegExp(want.title), `${id}: title`);
        assert.match((await page.locator("#journey-result").innerText()).replace(/\s+/g, " "), new RegExp(want.banner), `${id}: banner`);
        assert.deepEqual(await page.locator("#journey-result code").allInnerTexts(), want.code ? [want.code] : [], `${id}: code`);
        assert.doesNotMatch(await page.locator("body").innerText(), INTERNAL_TEXT);
        assert.deepEqual(await overflowing(page), [], `${id}: nothing wider than the screen`);
        await page.evaluate((phone) => document.getElementById(phone ? "result" : "journey").scrollIntoView(), size.width < 720);
        await page.screenshot({ path: `${shots}/training-${size.name}-${id}.png` });
      }
      assert.deepEqual(await accessibilityProblems(page), []);
    } finally {
      await page.close();
    }
  });
}
