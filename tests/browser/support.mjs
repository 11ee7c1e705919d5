// Shared by the browser tests: Debian's Chromium through playwright-core, the sizes a trainer
// meets, the horizontal-overflow check and the axe-core accessibility check.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

/** A phone, a projector at 1024x768 and at 1280x720, a laptop. */
export const SIZES = [
  { name: "phone-390", width: 390, height: 844 },
  { name: "projector-1024", width: 1024, height: 768 },
  { name: "projector-1280", width: 1280, height: 720 },
  { name: "desktop-1440", width: 1440, height: 900 },
];

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/** A page of the given size. With PAGE_ASSETS=src/admin the page's files come from that folder
 * instead of the binary, to try a change to the page without rebuilding. */
export async function openPage(browser, size, base, prepare) {
  const page = await browser.newPage({ viewport: { width: size.width, height: size.height } });
  page.setDefaultTimeout(20000);
  if (prepare) await prepare(page);
  const assets = process.env.PAGE_ASSETS;
  if (assets) {
    const types = { html: "text/html", css: "text/css", js: "text/javascript" };
    await page.route(/\/(_admin\/assets\/[a-z]+\.(css|js))?$/, (route) => {
      const path = new URL(route.request().url()).pathname;
      const file = path === "/" ? "page.html" : path.slice("/_admin/assets/".length);
      route.fulfill({ body: readFileSync(`${assets}/${file}`, "utf8"), contentType: types[file.split(".").pop()] });
    });
  }
  await page.goto(base + "/");
  return page;
}

/** Elements wider than the viewport, outside the diagram's own scroller. */
export async function overflowing(page) {
  return page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const out = [];
    for (const node of document.querySelectorAll("body *")) {
      if (node.closest("#diagram-scroll, dialog, .presenter[hidden], [hidden]")) continue;
      const r = node.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue;
      if (r.right > width + 1 || r.left < -1) {
        out.push(`${node.tagName.toLowerCase()}${node.id ? "#" + node.id : ""}.${[...node.classList].join(".")} [${Math.round(r.left)}, ${Math.round(r.right)}] > ${width}`);
      }
    }
    if (document.documentElement.scrollWidth > width + 1) out.push(`page scrolls sideways: ${document.documentElement.scrollWidth} > ${width}`);
    return out.slice(0, 10);
  });
}

/** Serious and critical axe-core violations of the page as it stands. */
export async function accessibilityProblems(page) {
  if (!(await page.evaluate(() => typeof window.axe !== "undefined"))) await page.addScriptTag({ content: AXE });
  const result = await page.evaluate(async () => window.axe.run(document, { resultTypes: ["violations"] }));
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")}`);
}

/** Text no user should meet on the page: a library's own error messages. */
export const INTERNAL_TEXT = /client error|SendRequest|hyper::|os error|connection closed before message completed/i;
