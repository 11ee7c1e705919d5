// The trainers' page on the default scenario at a phone's, two projectors' and a laptop's size:
// every path in one click, the titles and banners true, nothing wider than the screen but the
// diagram's own scroller, no serious accessibility problem. Needs SANDBOX_URL; screenshots go to
// SCREENSHOT_DIR.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { SIZES, launch, openPage, overflowing, accessibilityProblems, INTERNAL_TEXT } from "./support.mjs";

const base = process.env.SANDBOX_URL;
const shots = process.env.SCREENSHOT_DIR ?? "screenshots";
let browser;

before(async () => {
  assert.ok(base, "SANDBOX_URL must name a running sandbox");
  mkdirSync(shots, { recursive: true });
  browser = await launch();
});

after(async () => {
  await fetch(base + "/_admin/reset", { method: "POST" });
  await browser?.close();
});

const OLD = "Old Street Surgery \\(B82617\\)", NEW = "New Road Medical Practice \\(A20047\\)";
/** What each path must say: the journey's title, the banner's headline and its Spine code. */
const PATHS = {
  happy: { title: `Miss Priya Sharma: moving the record from ${OLD} to ${NEW}`, result: "received",
    banner: `Record received: ${NEW} now has Miss Priya Sharma's record from ${OLD}`, code: null },
  norel: { title: `Miss Priya Sharma: moving the record from ${OLD} to ${NEW}`, result: "refused",
    banner: `${OLD} refused: PDS does not name ${NEW} as the GP practice.*HTTP 403 from ${OLD} through SSP$`, code: "NO_RELATIONSHIP" },
  sensitive: { title: `Mr Kieran Doyle: moving the record from ${OLD} to ${NEW}`, result: "refused",
    banner: `${OLD} answered “patient not found”.*restricted \\(sensitive\\)`, code: "PATIENT_NOT_FOUND",
    sub: "PDS hides this patient's GP practice" },
  deceased: { title: `Mr Daniel Thomas Ashworth: moving the record from ${OLD} to ${NEW}`, result: "refused",
    banner: `${OLD} answered “patient not found”.*has died`, code: "PATIENT_NOT_FOUND" },
  "no-gpc": { title: `Mrs Sandra Lockwood: moving the record from Millbrook Health Centre \\(C81616\\) to ${NEW}`, result: "refused",
    banner: "Millbrook Health Centre \\(C81616\\) is not on GP Connect.*SDS, the Spine directory, has no address.*SDS answered HTTP 200 with no endpoint for C81616", code: null },
  retrieve: { title: `Miss Priya Sharma: reading part of the record at ${OLD} for ${NEW}`, result: "received",
    banner: `Part of the record read: ${NEW} received Miss Priya Sharma's allergies, medication, problems from ${OLD}`, code: null },
  outage: { title: `Miss Priya Sharma: moving the record from ${OLD} to ${NEW}`, result: "failed",
    banner: `${OLD}'s system did not answer.*dropped the connection.*HTTP 502 from SSP$`, code: "ERROR_COMMUNICATING_TO_ENDPOINT_URL" },
};

async function checkLayout(page, where) {
  assert.deepEqual(await overflowing(page), [], `${where}: nothing wider than the screen`);
}

async function checkAccessibility(page, where) {
  assert.deepEqual(await accessibilityProblems(page), [], `${where}: axe-core finds no serious or critical problem`);
}

for (const size of SIZES) {
  test(`${size.name}: every path runs in one click, its title and banner true`, async () => {
    const page = await openPage(browser, size, base);
    try {
      await page.locator('.path[data-path="happy"]:not([disabled])').waitFor();
      await page.locator('.patient[aria-pressed="true"]').waitFor({ state: "attached" });
      await checkLayout(page, `${size.name} opened`);
      await checkAccessibility(page, `${size.name} opened`);
      await page.screenshot({ path: `${shots}/${size.name}-opened.png` });
      for (const [id, want] of Object.entries(PATHS)) {
        await page.click(`.path[data-path="${id}"]`);
        await page.locator(`#journey-result[data-result="${want.result}"]`).waitFor();
        await page.locator(".path:not([disabled])").first().waitFor();
        const title = await page.locator("#journey-title").innerText();
        assert.match(title, new RegExp(want.title), `${id}: title`);
        if (want.sub) assert.match(await page.locator("#journey-sub").innerText(), new RegExp(want.sub), `${id}: what PDS shows`);
        const banner = await page.locator("#journey-result").innerText();
        assert.match(banner.replace(/\s+/g, " "), new RegExp(want.banner), `${id}: banner`);
        const codes = await page.locator("#journey-result code").allInnerTexts();
        assert.deepEqual(codes, want.code ? [want.code] : [], `${id}: the Spine code once, as a code`);
        const all = await page.locator("body").innerText();
        assert.doesNotMatch(all, INTERNAL_TEXT, `${id}: no internal library text on the page`);
        if (id === "outage") {
          const dropped = page.locator('.hop[data-service="provider"][data-status="444"], #hop-list button[data-service="provider"][data-status="444"]');
          assert.ok(await dropped.count() >= 1, "the dropped connection is drawn");
          const labels = await page.locator('#diagram .hop[data-service="ssp"] text').allTextContents();
          assert.ok(labels.every((l) => !/502 502/.test(l)), `SSP label said twice: ${labels}`);
          assert.match(labels.join(" "), /→ 502 ERROR_COMMUNICATING_TO_ENDPOINT_URL$/);
          const colour = await page.locator('#diagram .hop[data-status="444"] line').getAttribute("stroke");
          assert.equal(colour, "var(--err)", "a dropped connection is a failure, not a refusal");
          assert.equal(await page.locator('#trainer button[aria-pressed="true"]').count(), 0, "the outage is switched off after its run");
        }
        if (id === "happy") {
          // A hop's detail opens from the diagram, or from the list of hops on a phone.
          const hop = size.width < 720 ? page.locator('#hop-list button[data-service="provider"]') : page.locator('#diagram .hop[data-service="provider"]');
          await hop.first().click();
          const dialog = page.locator("#hop-dialog");
          await dialog.waitFor({ state: "visible" });
          assert.match(await dialog.innerText(), /whole record[\s\S]*JWT \(decoded\)/);
          const wide = await dialog.evaluate((d) => [...d.querySelectorAll("*")].filter((n) => n.getBoundingClientRect().right > document.documentElement.clientWidth + 1).length);
          assert.equal(wide, 0, "the hop's detail fits the screen");
          await page.screenshot({ path: `${shots}/${size.name}-hop-details.png` });
          await page.click("#hop-close");
        }
        await checkLayout(page, `${size.name} ${id}`);
        // On a phone the banner and the list of hops; on wider screens the title too.
        await page.evaluate((phone) => document.getElementById(phone ? "result" : "journey").scrollIntoView(), size.width < 720);
        await page.screenshot({ path: `${shots}/${size.name}-${id}.png` });
        if (id === "outage" || id === "sensitive") {
          await page.locator(size.width < 720 ? "#hop-list" : "#diagram-scroll").screenshot({ path: `${shots}/${size.name}-${id}-hops.png` });
        }
      }
      await checkAccessibility(page, `${size.name} after every path`);
    } finally {
      await page.close();
    }
  });
}

test("the record view reads like a GP record: UK dates, newest first, linked items named, no duplicates", async () => {
  const page = await openPage(browser, SIZES[3], base);
  try {
    await page.locator('.path[data-path="happy"]:not([disabled])').waitFor();
    // The assurance suite's patient2 has the richest record: a past allergy, results, consultations.
    await page.click('.patient[data-nhs="9690937286"]');
    await page.selectOption("#new-practice", "A20047");
    await page.click("#run-sensitive");
    await page.locator('#journey-result[data-result="received"]').waitFor();
    const record = page.locator("#record");
    await record.waitFor();
    const text = await record.innerText();
    assert.doesNotMatch(text, /\d{4}-\d{2}-\d{2}/, "no ISO dates");
    assert.match(text, /\b\d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4}\b/);
    assert.doesNotMatch(text, /linked: |Unknown|DocumentReference|MedicationRequest|Encounter\b/, "clinical words, not FHIR's");
    // EMIS-style exports carry the reaction in the allergy's note, as real EMIS exports do.
    assert.match(text, /reaction: Urticaria/i, "the allergy's reaction");
    assert.match(text, /Haemoglobin estimation\s+128 g\/L\s+range/, "results with value, unit and range");
    assert.match(text, /last issued \d/, "medication with its last issue date");
    assert.match(text, /quantity \d+ tablet/, "medication with its quantity");
    const ended = await page.locator('#record section[data-section="Ended allergies"] li').count();
    const allergies = await page.locator('#record section[data-section^="Allergies"] li').count();
    assert.equal(ended + allergies, 2, "each allergy once");
    // Newest first within a section.
    for (const name of ["Immunisations", "Investigations and results"]) {
      const dates = await page.locator(`#record section[data-section="${name}"] > ul > li`).evaluateAll((n) => n.map((x) => x.innerText));
      const parsed = dates.map((t) => Date.parse((/(\d{1,2} \w{3} \d{4})/.exec(t) || [])[1]));
      assert.deepEqual([...parsed].sort((a, b) => b - a), parsed, `${name} newest first: ${dates}`);
    }
    const consultation = page.locator("#record .consultation details").first();
    await consultation.locator("summary").click();
    assert.match(await consultation.innerText(), /Examination|Comment|Medication/);
    assert.ok(await page.locator("#record .flag").count() >= 1, "included confidential items are marked");
    assert.deepEqual(await accessibilityProblems(page), []);
    await page.locator("#record-view").screenshot({ path: `${shots}/record-view-full.png` });
    await page.emulateMedia({ media: "print" });
    await page.screenshot({ path: `${shots}/record-print.png`, fullPage: true });
    assert.equal(await page.locator("header.top").isVisible(), false, "print shows the record only");
    assert.equal(await page.locator("#record").isVisible(), true);
    assert.equal(await page.locator('#record section[data-section="Current medication"]').isVisible(), true, "print shows every section");
    assert.equal(await page.locator("#paths").isVisible(), false);
    await page.emulateMedia({ media: "screen" });
  } finally {
    await page.close();
  }
});

test("presenter mode steps through the journey one hop at a time, in plain words", async () => {
  const page = await openPage(browser, SIZES[2], base);
  try {
    await page.locator('.path[data-path="norel"]:not([disabled])').click();
    await page.locator('#journey-result[data-result="refused"]').waitFor();
    await page.click("#present");
    const hop = page.locator("#presenter-hop");
    assert.match(await hop.innerText(), /What was asked[\s\S]*Why[\s\S]*What came back/);
    assert.match(await page.locator("#presenter-count").innerText(), /^Hop 1 of \d+$/);
    await page.screenshot({ path: `${shots}/presenter-first-hop.png` });
    const total = Number((await page.locator("#presenter-count").innerText()).split(" of ")[1]);
    const said = [];
    for (let i = 0; i < total; i++) {
      said.push(await hop.innerText());
      await page.keyboard.press("ArrowRight");
    }
    assert.ok(said.some((s) => /looked Miss Priya Sharma up on PDS[\s\S]*PDS names Old Street Surgery \(B82617\)/.test(s)), said.join("\n"));
    assert.ok(said.some((s) => /refused: PDS does not name the asking practice/.test(s)), "the provider's refusal explained");
    assert.equal(await page.locator("#presenter-count").innerText(), "Outcome");
    assert.match(await hop.innerText(), /NO_RELATIONSHIP/);
    await page.screenshot({ path: `${shots}/presenter-outcome.png` });
    assert.deepEqual(await accessibilityProblems(page), []);
    // Modal: Tab stays on the presenter's own buttons.
    for (let i = 0; i < 4; i++) {
      await page.keyboard.press("Tab");
      assert.ok(await page.evaluate(() => document.getElementById("presenter").contains(document.activeElement)), "focus stays in the presenter");
    }
    await page.keyboard.press("Escape");
    assert.equal(await page.locator("#presenter").isHidden(), true);
  } finally {
    await page.close();
  }
});

test("keyboard only: tab to a path, run it, open a hop; focus is visible", async () => {
  const page = await openPage(browser, SIZES[1], base);
  try {
    await page.locator('.path[data-path="happy"]:not([disabled])').waitFor();
    const reached = [];
    for (let i = 0; i < 40 && !reached.includes("path:happy"); i++) {
      await page.keyboard.press("Tab");
      reached.push(await page.evaluate(() => {
        const a = document.activeElement;
        return a.dataset.path ? `path:${a.dataset.path}` : a.id || a.className || a.tagName;
      }));
    }
    assert.ok(reached.includes("path:happy"), `tab order: ${reached}`);
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert.notEqual(outline, "none", "the focused button shows it");
    await page.screenshot({ path: `${shots}/keyboard-focus.png` });
    await page.keyboard.press("Enter");
    await page.locator('#journey-result[data-result="received"]').waitFor();
    await page.locator('#diagram .hop').first().focus();
    await page.keyboard.press("Enter");
    await page.locator("#hop-dialog").waitFor({ state: "visible" });
    await page.keyboard.press("Escape");
    await page.locator("#hop-dialog").waitFor({ state: "hidden" });
  } finally {
    await page.close();
  }
});

test("when the sandbox ends the journal stream, the page reconnects and keeps drawing hops", async () => {
  let streams = 0;
  const page = await openPage(browser, SIZES[3], base, (p) => p.route(/\/_admin\/journal\?stream=true/, (route) => {
    streams += 1;
    // The first stream ends at once, as the sandbox ends one whose reader fell behind.
    if (streams === 1) {
      route.fulfill({ status: 200, contentType: "text/event-stream", body: 'retry: 100\n\nevent: cut\ndata: {"reason":"fell behind","reconnect":true}\n\n' });
    } else {
      route.continue();
    }
  }));
  try {
    await page.locator('.path[data-path="happy"]:not([disabled])').waitFor();
    for (let i = 0; i < 100 && streams < 2; i++) await page.waitForTimeout(100);
    assert.ok(streams >= 2, `the page reconnected (${streams} streams opened)`);
    // A journey the page did not start (another consumer's) is drawn from the new stream.
    const resp = await fetch(base + "/_admin/journey", { method: "POST", body: JSON.stringify({ patient: "9434761018", as: "A20047", from: "B82617" }) });
    assert.equal(resp.status, 200);
    await page.locator('#diagram .hop[data-service="provider"]').first().waitFor({ state: "attached" });
  } finally {
    await page.close();
  }
});

test("an immunisation shows its batch, maker, site and expiry when the Bundle sends them", async () => {
  const page = await openPage(browser, SIZES[0], base);
  try {
    await page.locator('.path[data-path="happy"]:not([disabled])').waitFor();
    await page.locator("#patients-box > summary").click();
    await page.click('.patient[data-nhs="9434761158"]');
    await page.selectOption("#new-practice", "A20047");
    await page.click("#run-happy");
    await page.locator('#journey-result[data-result="received"]').waitFor();
    const section = page.locator('#record section[data-section="Immunisations"]');
    await section.waitFor();
    const text = await section.innerText();
    assert.match(text, /batch FLU2391A/);
    assert.match(text, /made by Seqirus UK Ltd/);
    assert.match(text, /site: Left upper arm/);
    assert.match(text, /expires \d{1,2} \w{3} \d{4}/);
    assert.deepEqual(await overflowing(page), [], "the record fits a phone");
    await section.screenshot({ path: `${shots}/phone-390-immunisations.png` });
  } finally {
    await page.close();
  }
});

test("'SSP is down' rehearsed from the trainer's switch: a plain banner, the code once, the switch shown on", async () => {
  const page = await openPage(browser, SIZES[1], base);
  try {
    await page.locator('.path[data-path="happy"]:not([disabled])').click();
    await page.locator('#journey-result[data-result="received"]').waitFor();
    await page.locator(".path:not([disabled])").first().waitFor();
    await page.click('#trainer button[data-fault="ssp-down"]');
    await page.locator('#trainer button[data-fault="ssp-down"][aria-pressed="true"]').waitFor();
    await page.click('.patient[data-nhs="9690937286"]');
    await page.click("#run-happy");
    await page.locator('#journey-result[data-result="refused"], #journey-result[data-result="failed"]').waitFor();
    const banner = (await page.locator("#journey-result").innerText()).replace(/\s+/g, " ");
    assert.match(banner, /Spine's secure proxy \(SSP\) is unavailable.*HTTP 503 from SSP$/);
    assert.deepEqual(await page.locator("#journey-result code").allInnerTexts(), ["SERVICE_UNAVAILABLE"]);
    assert.doesNotMatch(await page.locator("body").innerText(), INTERNAL_TEXT);
    assert.deepEqual(await overflowing(page), []);
    await page.evaluate(() => document.getElementById("trainer").scrollIntoView());
    await page.screenshot({ path: `${shots}/projector-1024-ssp-down.png` });
    await page.click('#trainer button[data-fault="ssp-down"]');
    await page.locator('#trainer button[data-fault="ssp-down"][aria-pressed="false"]').waitFor();
  } finally {
    await page.close();
  }
});

test("a consumer team downloads the CA and its practice's client certificate and key from the page", async () => {
  const page = await openPage(browser, SIZES[SIZES.length - 1], base);
  try {
    await page.locator(".practices > summary").click();
    const ca = page.locator("#ca-download");
    await ca.waitFor();
    const practice = page.locator('#practices li[data-ods="A20047"]');
    assert.match(await practice.innerText(), /A20047 .* ASID 200000001012/);
    const links = [await ca.getAttribute("href"), ...(await practice.locator("a").evaluateAll((a) => a.map((x) => x.getAttribute("href"))))];
    assert.deepEqual(links, [
      "/_admin/certificates/ca.pem",
      "/_admin/certificates/clients/200000001012.pem",
      "/_admin/certificates/clients/200000001012-key.pem",
    ]);
    // Each link serves the PEM file itself, fetched the way the browser downloads it.
    for (const [href, kind] of [[links[0], "CERTIFICATE"], [links[1], "CERTIFICATE"], [links[2], "PRIVATE KEY"]]) {
      const text = await page.evaluate(async (u) => (await fetch(u)).text(), href);
      assert.match(text, new RegExp(`-----BEGIN ${kind}-----`), href);
    }
    assert.deepEqual(await overflowing(page), [], "the practices list fits the page");
    await page.locator(".practices").screenshot({ path: `${shots}/practices-downloads.png` });
  } finally {
    await page.close();
  }
});
