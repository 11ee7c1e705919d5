// The trainers' page: choose a patient and a path, run the consumer journey in the sandbox, watch
// each hop arrive from the journal, explain it in plain words, and read the record received.
"use strict";

const LANES = ["consumer", "pds", "sds", "ssp", "provider"];
const LANE_NAMES = {
  consumer: ["New practice", "(consumer)"], pds: ["PDS", "patient register"], sds: ["SDS", "directory"],
  ssp: ["SSP", "secure proxy"], provider: ["Old practice", "(provider)"],
};
const MIGRATE = "urn:nhs:names:services:gpconnect:fhir:operation:gpc.migratestructuredrecord-1";
const RUN_BUTTONS = ["run-happy", "run-norel", "run-sensitive", "run-retrieve"];
const ROW = 48, TOP = 72;
let scenario = null, selected = null, hops = [], lastSequence = 0, busy = false, regrade = null;
let journeyStart = null, lastRun = null, presenterAt = 0, reading = false;

const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, text) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
};
const svgEl = (tag, attrs = {}, text) => {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
};
const practice = (ods) => scenario?.practices.find((p) => p.ods === ods);
const practiceName = (ods) => practice(ods) ? `${practice(ods).name} (${ods})` : ods || "an unknown practice";
const patientName = (nhs) => scenario?.patients.find((p) => p.nhs_number === nhs)?.name || nhs;
/** A practice's system can ask for a record: SDS holds it with the migrate interaction. */
const canReceive = (x) => (x?.interactions || []).includes(MIGRATE);
/** The Spine code of a refusal, without the URL some codes carry after them. */
const spineCode = (text) => (/^(?:\d{3}:?\s*)?([A-Z][A-Z_]+?)(?:_https?\b|:|\s|$)/.exec(text || "") || [])[1] || "";
/** Text a person can read: never a library's internal message. */
const INTERNAL = /client error|SendRequest|hyper|os error|connection closed before|tcp connect|Connection refused|tls handshake/i;

function tone(status) {
  if (status >= 200 && status < 300) return "ok";
  if (status >= 400 && status < 500 && status !== 444 && status !== 499) return "warn";
  return "err";
}

/** What PDS shows about the patient's practice (a restricted record hides it). */
function pdsShows(p) {
  if (p.sensitive) return "PDS hides this patient's GP practice and address: the record is restricted (sensitive).";
  const names = p.registered_with ? `PDS names ${practiceName(p.registered_with)} as the GP practice` : "PDS names no GP practice";
  const died = p.deceased ? " PDS records that the patient has died." : "";
  return `${names}; the record is held by ${practiceName(p.record_at)}.${died}`;
}

async function loadScenario() {
  scenario = await (await fetch(BASE + "/_admin/scenario")).json();
  $("scenario-name").textContent = scenario.name || "";
  $("scenario-story").textContent = scenario.description || "";
  const practices = $("practices");
  practices.replaceChildren(...scenario.practices.map((p) => {
    const item = el("li", { "data-ods": p.ods }, `${p.ods} ${p.name} · ASID ${p.asid}${canReceive(p) ? "" : " · not on GP Connect"}`);
    // The client certificate and key SSP accepts for this ASID, for a consumer's own system.
    const files = el("span", { class: "downloads" });
    files.append(
      el("a", { href: `${BASE}/_admin/certificates/clients/${p.asid}.pem`, download: `${p.asid}.pem` }, "certificate"),
      document.createTextNode(" · "),
      el("a", { href: `${BASE}/_admin/certificates/clients/${p.asid}-key.pem`, download: `${p.asid}-key.pem` }, "key"),
    );
    item.append(document.createTextNode(" "), files);
    return item;
  }));
  const select = $("new-practice");
  const chosen = select.value;
  select.replaceChildren(...scenario.practices.map((p) => el("option", { value: p.ods }, `${p.ods} ${p.name}`)));
  if (chosen) select.value = chosen;
  const list = $("patients");
  list.replaceChildren();
  for (const p of scenario.patients) {
    const card = el("button", { type: "button", class: "patient", "data-nhs": p.nhs_number, "aria-pressed": "false" });
    card.append(el("span", { class: "name" }, p.name), el("span", { class: "meta" }, `NHS ${p.nhs_number} · record at ${p.record_at} · ${p.items} item${p.items === 1 ? "" : "s"}`));
    const tags = el("span");
    if (p.sensitive) tags.append(el("span", { class: "tag sensitive" }, "sensitive"));
    if (p.deceased) tags.append(el("span", { class: "tag deceased" }, "deceased"));
    if (p.dissent) tags.append(el("span", { class: "tag dissent" }, "dissent"));
    if (!p.nhs_number_verified) tags.append(el("span", { class: "tag unverified" }, "NHS number unverified"));
    if (p.confidential_items) tags.append(el("span", { class: "tag" }, `${p.confidential_items} confidential`));
    card.append(tags);
    card.addEventListener("click", () => { reading = false; choose(p, true); });
    list.append(card);
  }
  drawPaths();
  const again = selected && scenario.patients.find((x) => x.nhs_number === selected.nhs_number);
  const first = again || PATHS[0].pick()?.patient || scenario.patients[0];
  if (first) choose(first, !again); else updateButtons();
}

/** A new practice for the patient: on GP Connect, not where the record is, not where PDS points. */
function newPracticeFor(p) {
  // The practice holding most records plays "the old practice"; a GP practice on GP Connect
  // (with a provider of its own) plays "the new practice" best.
  const held = (x) => scenario.patients.filter((q) => q.record_at === x.ods).length;
  const old = [...scenario.practices].sort((a, b) => held(b) - held(a))[0];
  const rank = (x) => (x === old ? 2 : 0) + (x.provider ? 0 : 1);
  const candidates = [...scenario.practices].sort((a, b) => rank(a) - rank(b));
  return candidates.find((x) => canReceive(x) && x.ods !== p.record_at && x.ods !== p.registered_with)
    || candidates.find((x) => canReceive(x) && x.ods !== p.record_at);
}

function choose(p, pickPractice) {
  selected = p;
  for (const c of document.querySelectorAll(".patient")) c.setAttribute("aria-pressed", String(c.dataset.nhs === p.nhs_number));
  const other = newPracticeFor(p);
  if (other && pickPractice) $("new-practice").value = other.ods;
  updateButtons();
}

function updateTitle() {
  if (!selected) return;
  const as = $("new-practice").value;
  $("journey-title").textContent = reading ? `${selected.name}: reading part of the record at ${practiceName(selected.record_at)} for ${practiceName(as)}`
    : `${selected.name}: moving the record from ${practiceName(selected.record_at)} to ${practiceName(as)}`;
  $("journey-sub").textContent = pdsShows(selected);
}

/** Enables only the journeys that make sense for the patient and new practice, and says why not. */
function updateButtons() {
  updateTitle();
  const as = $("new-practice").value;
  let why = "";
  if (!selected) why = "Choose a patient.";
  else if (as === selected.record_at) why = `${practiceName(as)} already holds this record: choose another new practice.`;
  else if (!canReceive(practice(as))) why = `${practiceName(as)} is not on GP Connect: SDS lists no system there that may ask for a record.`;
  for (const b of RUN_BUTTONS) $(b).disabled = busy || why !== "";
  if (!chosenAreas().length) $("run-retrieve").disabled = true;
  // Skipping the change shows a refusal only while PDS names another practice (or hides it).
  if (!why && !selected.sensitive && selected.registered_with === as) {
    $("run-norel").disabled = true;
    why = `PDS already names ${practiceName(as)} as the GP practice: there is no change to skip, and “Move the record” asks for the record straight away.`;
  }
  $("why-disabled").textContent = busy ? "A journey is running…" : why;
  for (const b of document.querySelectorAll(".path")) b.disabled = busy || b.dataset.unavailable === "true";
}

// The paths a trainer shows, each found in the loaded scenario (or disabled, saying why not).
/** Where PDS names the patient's practice once the sandbox is reset (paths start from a reset). */
const atLoad = (p) => p.scenario_registered_with ?? p.registered_with;
const ordinary = (p) => !p.sensitive && !p.deceased && !p.dissent && p.nhs_number_verified && canReceive(practice(p.record_at)) && practice(p.record_at)?.provider;
const PATHS = [
  { id: "happy", name: "Happy path", about: "Change the registration on PDS, then move the record.",
    pick: () => pickPatient((p) => ordinary(p) && atLoad(p) === p.record_at) || pickPatient(ordinary),
    none: "No patient here has an ordinary record at a practice on GP Connect.", kind: "happy" },
  { id: "norel", name: "NO_RELATIONSHIP", about: "Ask for the record while PDS still names the old practice.",
    pick: () => pickPatient((p) => ordinary(p) && atLoad(p) === p.record_at),
    none: "No patient here is still registered, on PDS, at the practice holding the record.", kind: "norel" },
  { id: "sensitive", name: "Sensitive: refused", about: "A restricted patient: the old practice answers “patient not found”.",
    pick: () => pickPatient((p) => p.sensitive && practice(p.record_at)?.provider),
    none: "No patient here is sensitive (restricted) on PDS.", kind: "norel" },
  { id: "deceased", name: "Deceased", about: "The patient has died: the old practice does not release the record.",
    pick: () => pickPatient((p) => p.deceased && !p.sensitive && practice(p.record_at)?.provider),
    none: "No patient here has died.", kind: "happy" },
  { id: "no-gpc", name: "No GP Connect", about: "The old practice is not on GP Connect: SDS has no address for it.",
    pick: () => pickPatient((p) => !practice(p.record_at)?.provider && !p.sensitive && !p.deceased),
    none: "Every practice holding a record here is on GP Connect.", kind: "happy" },
  { id: "retrieve", name: "Direct care read", about: "Read allergies, medication and problems; PDS is not changed.",
    pick: () => pickPatient((p) => ordinary(p) && atLoad(p) === p.record_at) || pickPatient(ordinary),
    none: "No patient here has an ordinary record to read.", kind: "retrieve", areas: ["allergies", "medication", "problems"] },
  { id: "outage", name: "Outage", about: "The old practice's system is offline for one run.",
    pick: () => pickPatient((p) => ordinary(p) && atLoad(p) === p.record_at) || pickPatient(ordinary),
    none: "No patient here has an ordinary record to ask for.", kind: "happy", fault: "provider-offline" },
];

/** The areas ticked for a direct-care read. */
const chosenAreas = () => [...document.querySelectorAll('#retrieve-areas input[name="area"]:checked')].map((b) => b.value);

function pickPatient(test) {
  const patient = scenario.patients.find(test);
  if (!patient) return null;
  const as = newPracticeFor({ ...patient, registered_with: atLoad(patient) });
  return as ? { patient, as: as.ods } : null;
}

function drawPaths() {
  const grid = $("paths");
  grid.replaceChildren();
  for (const path of PATHS) {
    const found = path.pick();
    const b = el("button", { type: "button", class: "path", "data-path": path.id, "data-unavailable": String(!found) });
    b.append(el("span", { class: "path-name" }, path.name), el("span", { class: "path-about" }, found
      ? `${path.about} ${found.patient.name}, to ${found.as}.` : path.none));
    b.disabled = !found || busy;
    b.addEventListener("click", () => runPath(path));
    grid.append(b);
  }
}

/** One click: reset, choose the path's patient and practice, run it (with its fault, if any). */
async function runPath(path) {
  const found = path.pick();
  if (!found || busy) return;
  const from = document.activeElement;
  busy = true;
  updateButtons();
  await fetch(BASE + "/_admin/reset", { method: "POST" });
  await Promise.all([loadScenario(), syncTrainer()]);
  choose(scenario.patients.find((p) => p.nhs_number === found.patient.nhs_number), false);
  $("new-practice").value = found.as;
  updateTitle();
  let rule = null;
  if (path.fault) {
    const resp = await fetch(BASE + "/_admin/faults", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(TRAINER[path.fault]) });
    rule = resp.ok ? (await resp.json()).rules[0] : null;
    await syncTrainer();
  }
  busy = false;
  await runJourney(path.kind, path);
  if (rule) {
    await fetch(`${BASE}/_admin/faults/${rule.id}`, { method: "DELETE" });
    await syncTrainer();
  }
  // The keyboard follows the click to the journey, unless it has moved on meanwhile.
  if (document.activeElement === from || document.activeElement === document.body) $("journey").focus();
}

async function runJourney(kind, path) {
  if (!selected || busy) return;
  busy = true;
  updateButtons();
  const as = $("new-practice").value;
  const run = { patient: selected, as, from: selected.record_at, kind, path };
  reading = kind === "retrieve";
  updateTitle();
  journeyStart = lastSequence;
  hops = [];
  drawDiagram();
  const what = path ? path.name : { happy: "moving the record", norel: "asking without changing the registration", sensitive: "asking for sensitive information too", retrieve: "reading part of the record" }[kind];
  $("result").replaceChildren(banner("running", `Running: ${what}…`, `${selected.name}, from ${practiceName(run.from)} to ${practiceName(as)}.`));
  $("steps").replaceChildren();
  const body = { patient: selected.nhs_number, as, skip_registration_change: kind === "norel", sensitive: kind === "sensitive", from: run.from };
  if (kind === "retrieve") {
    // A path's areas are ticked, so the page shows what was asked for.
    if (path?.areas) for (const b of document.querySelectorAll('#retrieve-areas input[name="area"]')) b.checked = path.areas.includes(b.value);
    Object.assign(body, { operation: "retrieve", retrieve: { include: chosenAreas(), parts: [] } });
  }
  try {
    const resp = await fetch(BASE + "/_admin/journey", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    run.report = await resp.json();
    if (!resp.ok) throw new Error(run.report?.issue?.[0]?.diagnostics || `status ${resp.status}`);
    lastRun = run;
    await catchUp();
    showReport(run);
  } catch (e) {
    const msg = INTERNAL.test(String(e)) ? "the sandbox did not answer." : String(e.message || e);
    $("result").replaceChildren(banner("failed", "The journey could not run", msg));
  } finally {
    busy = false;
    await catchUp();
    await Promise.all([loadConformance(), loadRecord()]);
    await loadScenario();
  }
}

function banner(kind, headline, ...lines) {
  const box = el("div", { class: `banner ${kind}`, id: "journey-result", "data-result": kind, role: kind === "running" ? "status" : "alert" });
  box.append(el("p", { class: "headline" }, headline));
  for (const line of lines.filter(Boolean)) box.append(line instanceof Node ? line : el("p", {}, line));
  return box;
}

/** A line "Spine code: <code>X</code> · HTTP 404 from ...". */
function codeLine(code, status, who) {
  const p = el("p", { class: "code-line" });
  if (code) {
    // A long code wraps at its underscores, not in the middle of a word.
    const c = el("code");
    code.split("_").forEach((part, i) => { if (i) c.append("_", document.createElement("wbr")); c.append(part); });
    p.append(document.createTextNode("Spine code "), c, document.createTextNode(" · "));
  }
  p.append(document.createTextNode(status ? `HTTP ${status} from ${who}` : `no answer from ${who}`));
  return p;
}

const STEP_WHO = (step, run) => /^PDS/.test(step) ? "PDS" : /^SDS/.test(step) ? "SDS (the Spine directory)"
  : /^Platform/.test(step) ? "the NHS API platform" : /Migrate|Document|Retrieve/.test(step) ? `${practiceName(run.from)} through SSP` : "the sandbox";

/** The outcome in plain words: what happened, why, and the code as a code. */
function explainOutcome(run) {
  const r = run.report, p = run.patient, as = practiceName(run.as), from = practiceName(run.from);
  const bad = [...r.steps].reverse().find((s) => !s.ok) || r.steps[r.steps.length - 1] || {};
  const code = spineCode(r.spine_code) || spineCode(bad.spine_code) || spineCode(bad.outcome);
  let who = STEP_WHO(bad.step || "", run);
  // Through SSP, the answer is the old practice's only when its system gave that status itself.
  if (bad.trace_id && /through SSP$/.test(who)) {
    const provider = hops.find((h) => h.service === "provider" && h.trace_id === bad.trace_id);
    if (!provider || provider.status !== bad.status) who = "SSP";
  }
  if (r.result === "received" && run.kind === "retrieve") {
    const rec = r.record || {};
    const names = (rec.areas_requested || []).map((a) => window.AREA_NAMES[a] || a).join(", ");
    const warned = (rec.warnings || []).length ? `The old practice warned: ${rec.warnings.join("; ")}.` : "";
    return ["received", `Part of the record read: ${as} received ${p.name}'s ${names.toLowerCase()} from ${from}`,
      [`${rec.resources} resources arrived for direct care; PDS was not changed. Confidential items are never sent for direct care.`, warned]];
  }
  if (r.result === "received") {
    const rec = r.record || {};
    const withheld = (rec.lists_with_withheld_items || []).length
      ? `Confidential items were withheld from: ${rec.lists_with_withheld_items.join(", ")}.` : "No confidential item was withheld.";
    const docs = rec.documents_referenced ? `${rec.documents_fetched} of ${rec.documents_referenced} documents fetched` : "the record lists no document";
    return ["received", `Record received: ${as} now has ${p.name}'s record from ${from}`,
      [`${rec.resources} resources arrived; ${docs}. ${withheld}`]];
  }
  const lines = {
    FORBIDDEN_UPDATE: ["PDS refused the registration change", `${p.name}'s record is restricted (sensitive), so PDS refuses any update to it. The old practice was never asked: use “Skip the registration change” to see its answer.`],
    NO_RELATIONSHIP: [`${from} refused: PDS does not name ${as} as the GP practice`, "GP Connect releases a record only to the practice PDS names. Change the registration on PDS first, then ask again."],
    NO_PATIENT_CONSENT: [`${from} refused: the patient has dissented from sharing their record`, "The record stays where it is; the new practice must ask the patient."],
    NO_RECORD_FOUND: [`${from} is not on GP Connect`, "SDS, the Spine directory, has no address for its system, so the record cannot be requested electronically."],
    PATIENT_NOT_FOUND: [`${from} answered “patient not found”`, p.sensitive
      ? "The patient's record is restricted (sensitive): GP Connect does not release it, and answers as if the patient were unknown."
      : p.deceased ? "The patient has died: GP Connect does not migrate a deceased patient's record."
        : !p.nhs_number_verified ? "The patient's NHS number is not verified on PDS: GP Connect does not release the record." : "The old practice holds no record for this NHS number."],
    SERVICE_UNAVAILABLE: ["Spine's secure proxy (SSP) is unavailable", "No request could pass through it. Try again once it is back."],
    ERROR_COMMUNICATING_TO_ENDPOINT_URL: [`${from}'s system did not answer`, "SSP passed the request on, but the old practice's system dropped the connection without a reply."],
  };
  // SDS answers an empty list, not a refusal: no Spine code to show.
  if (code === "NO_RECORD_FOUND" && /^SDS/.test(bad.step || "")) {
    return ["refused", lines[code][0], [lines[code][1], `SDS answered HTTP ${bad.status} with no endpoint for ${run.from}.`]];
  }
  if (lines[code]) return [r.result === "failed" ? "failed" : "refused", lines[code][0], [lines[code][1], codeLine(code, bad.status, who)]];
  if (r.result === "refused") {
    const why = INTERNAL.test(r.reason || "") ? "" : r.reason;
    return ["refused", `${who} refused the request`, [why, codeLine(code, bad.status, who)]];
  }
  return ["failed", `The journey stopped at “${bad.step || "the start"}”`,
    [bad.status ? `${who} answered with an error.` : `No answer came from ${who}: the connection failed.`, codeLine(code, bad.status, who)]];
}

function showReport(run) {
  const [kind, headline, lines] = explainOutcome(run);
  const box = banner(kind, headline, ...lines);
  box.dataset.result = run.report.result;
  $("result").replaceChildren(box);
  const steps = $("steps");
  steps.replaceChildren();
  for (const s of run.report.steps) {
    const li = el("li", { "data-step": s.step });
    li.append(el("span", { class: `mark ${s.ok ? "ok" : "bad"}`, "aria-label": s.ok ? "done" : "stopped here" }, s.ok ? "✔" : "✘"),
      document.createTextNode(`${s.step}${s.status ? ` — ${s.status}` : ""}`));
    let detail = s.outcome.replace(" (--skip-registration-change)", "");
    if (!s.ok) {
      const code = spineCode(s.spine_code) || spineCode(s.outcome);
      detail = INTERNAL.test(s.outcome) || (code && code.length + 40 < s.outcome.length && /https?:/.test(s.outcome))
        ? `${code ? code + ": " : ""}${s.status ? "refused" : "no answer: the connection failed"} (the journal holds the detail)` : s.outcome;
    }
    li.append(el("span", { class: "detail" }, detail));
    steps.append(li);
  }
}

function laneX(lane, width) {
  return 80 + LANES.indexOf(lane) * ((width - 160) / (LANES.length - 1));
}

function hopLanes(entry) {
  if (entry.service === "oauth") return ["consumer", "pds"];
  if (entry.service === "ssp") return ["consumer", "ssp"];
  if (entry.service === "provider") {
    const viaSsp = hops.some((h) => h.service === "ssp" && h.trace_id && h.trace_id === entry.trace_id);
    return [viaSsp ? "ssp" : "consumer", "provider"];
  }
  return ["consumer", entry.service];
}

/** A hop's label: the resource asked for and the answer, short enough for its arrow. */
function hopLabel(e) {
  const p = (e.target || e.path || "").split("?")[0];
  const what = /migratestructuredrecord/.test(p) ? "migrate" : /getstructuredrecord/.test(p) ? "retrieve" : /\/Binary\//.test(p) ? "document"
    : /Endpoint$/.test(p) ? "Endpoint" : /Device$/.test(p) ? "Device" : /\/Patient/.test(p) ? "Patient" : p.split("/").filter(Boolean).pop() || "/";
  const code = spineCode(e.refusal);
  const answer = e.status === 444 ? "dropped" : `${e.status}${code && !String(e.status).includes(code) ? " " + code : ""}`;
  return `${e.fault ? "⚡ " : ""}${e.method} ${what} → ${answer}`;
}

function drawDiagram() {
  // A redraw keeps the keyboard where it was: on the same hop.
  const focused = document.activeElement?.closest?.("#diagram .hop, #hop-list button")?.dataset.sequence;
  const svg = $("diagram");
  const width = Math.max(680, $("diagram-scroll").clientWidth - 2);
  const height = TOP + Math.max(1, hops.length) * ROW + 16;
  svg.setAttribute("width", width);
  svg.setAttribute("height", height);
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.replaceChildren();
  for (const lane of LANES) {
    const x = laneX(lane, width);
    svg.append(svgEl("text", { x, y: 22, "text-anchor": "middle", class: "lane-label" }, LANE_NAMES[lane][0]));
    svg.append(svgEl("text", { x, y: 42, "text-anchor": "middle", class: "lane-sub" }, LANE_NAMES[lane][1]));
    svg.append(svgEl("line", { x1: x, y1: 52, x2: x, y2: height, stroke: "#8a949e", "stroke-dasharray": "6 6", "stroke-width": 2 }));
  }
  const list = $("hop-list");
  list.replaceChildren();
  hops.forEach((e, i) => {
    const [from, to] = hopLanes(e);
    const x1 = laneX(from, width), x2 = laneX(to, width), y = TOP + i * ROW + 14;
    const t = tone(e.status), c = `var(--${t})`, dir = Math.sign(x2 - x1);
    const label = hopLabel(e);
    const g = svgEl("g", { class: "hop", "data-sequence": e.sequence, "data-service": e.service, "data-status": e.status, tabindex: "0", role: "button", "aria-label": `#${e.sequence} ${label}` });
    g.append(svgEl("rect", { class: "focus-ring", x: Math.min(x1, x2) - 4, y: y - 30, width: Math.abs(x2 - x1) + 8, height: 40, fill: "transparent", rx: 6 }));
    const line = { x1, y1: y, x2: x2 - dir * 8, y2: y, stroke: c, "stroke-width": 3 };
    if (e.fault) line["stroke-dasharray"] = "10 5";
    g.append(svgEl("line", line));
    g.append(svgEl("polygon", { points: `${x2},${y} ${x2 - dir * 12},${y - 6} ${x2 - dir * 12},${y + 6}`, fill: c }));
    g.append(svgEl("text", { x: (x1 + x2) / 2, y: y - 9, "text-anchor": "middle", fill: c }, label));
    g.addEventListener("click", () => showHop(e));
    g.addEventListener("keydown", (ev) => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); showHop(e); } });
    svg.append(g);
    const li = el("li");
    const b = el("button", { type: "button", class: `${t}${e.fault ? " fault" : ""}`, "data-sequence": e.sequence, "data-service": e.service, "data-status": e.status });
    b.append(el("span", { class: "who" }, `${LANE_NAMES[from][0]} → ${LANE_NAMES[to][0]}`), document.createTextNode(label));
    b.addEventListener("click", () => showHop(e));
    li.append(b);
    list.append(li);
  });
  if (focused) {
    const again = document.querySelector(`#diagram .hop[data-sequence="${focused}"]`);
    (again && again.getBoundingClientRect().width ? again : document.querySelector(`#hop-list button[data-sequence="${focused}"]`))?.focus();
  }
}

function kvTable(pairs) {
  const t = el("table", { class: "kv" });
  for (const [k, v] of pairs) { const tr = el("tr"); tr.append(el("th", { scope: "row" }, k), el("td", {}, v)); t.append(tr); }
  return t;
}

function pretty(text) {
  if (!text) return "(empty)";
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch { return text; }
}

function showHop(e) {
  $("hop-title").textContent = `#${e.sequence} ${e.service.toUpperCase()} ${e.method} → ${e.status}`;
  const x = explainHop(e);
  const body = $("hop-body");
  body.replaceChildren(el("p", {}, `${x.asked} ${x.answer}`));
  body.append(kvTable([
    ["time", e.time], ["path", e.path], ["status", String(e.status)], ["duration", `${e.duration_ms.toFixed(1)} ms`],
    ["Ssp-TraceID", e.trace_id || "—"], ["Ssp-From", e.from_asid || "—"], ["Ssp-To", e.to_asid || "—"],
    ["interaction", e.interaction || "—"], ["target", e.target || "—"], ["refused because", e.refusal || "—"],
    ["injected fault", e.fault || "—"],
  ]));
  body.append(el("h3", {}, "Request headers"), kvTable(e.request_headers));
  if (e.jwt) body.append(el("h3", {}, "JWT (decoded)"), el("pre", {}, JSON.stringify(e.jwt, null, 2)));
  body.append(el("h3", {}, "Request body"), el("pre", {}, pretty(e.request_body)));
  body.append(el("h3", {}, "Response headers"), kvTable(e.response_headers));
  body.append(el("h3", {}, "Response body"), el("pre", {}, pretty(e.response_body)));
  $("hop-dialog").showModal();
}

/** The ODS code a directory look-up asked about. */
function odsOf(path) {
  return (/ods-organization-code(?:%7C|\|)([A-Z0-9]+)/i.exec(path) || [])[1] || "";
}

/** One hop as a practice manager would follow it: what was asked, why, and what came back. */
function explainHop(e) {
  const run = lastRun, nhs = (/Patient\/(\d{10})/.exec(e.path) || [])[1];
  const who = nhs ? patientName(nhs) : run ? run.patient.name : "the patient";
  const code = spineCode(e.refusal);
  const refusedBecause = code ? ` (Spine code ${code})` : "";
  let body = null;
  try { body = e.response_body ? JSON.parse(e.response_body) : null; } catch { body = null; }
  const ok = e.status >= 200 && e.status < 300;
  const dropped = e.status === 444 || e.status === 499;
  const fallback = ok ? "The answer was yes." : dropped ? "No answer came back: the connection was dropped." : `It was refused with HTTP ${e.status}${refusedBecause}.`;
  if (e.service === "sds") {
    const ods = odsOf(e.path), entries = body?.entry?.length ?? body?.total;
    if (/Device/.test(e.path)) {
      return { asked: `The new practice asked SDS, the Spine directory, which system (ASID) ${practiceName(ods)} uses.`,
        why: "Every message through Spine names the system sending it and the system receiving it.",
        answer: ok ? (entries ? `SDS named the system of ${ods}.` : `SDS has no system for ${ods}.`) : fallback };
    }
    return { asked: `The new practice asked SDS where the GP Connect system of ${practiceName(ods)} can be reached.`,
      why: "The record is asked for at the address the directory holds, never at one typed in by hand.",
      answer: ok ? (entries ? "SDS gave the address." : `SDS has no address: ${ods} is not on GP Connect.`) : fallback };
  }
  if (e.service === "pds" && e.method === "GET") {
    const gp = (body?.generalPractitioner || [])[0]?.identifier?.value;
    const restricted = (body?.meta?.security || []).some((s) => s.code === "R");
    return { asked: `The new practice looked ${who} up on PDS, the national register of patients.`,
      why: "To be sure of who the patient is, and to see which practice PDS names as their GP.",
      answer: !ok ? fallback : restricted ? "PDS found the patient but hides their GP practice and address: the record is restricted."
        : gp ? `PDS names ${practiceName(gp)} as the GP practice.` : "PDS found the patient; it names no GP practice." };
  }
  if (e.service === "pds") {
    return { asked: `The new practice asked PDS to record it as ${who}'s GP practice.`,
      why: "GP Connect releases a record only to the practice PDS names.",
      answer: ok ? "PDS made the change." : code === "FORBIDDEN_UPDATE" ? "PDS refused: the patient's record is restricted (sensitive) and cannot be updated." : fallback };
  }
  if (e.service === "ssp") {
    return { asked: "The new practice sent its request to SSP, Spine's secure proxy, to pass on to the old practice's system.",
      why: "Practices never call each other directly: SSP checks both systems' certificates and that the call is allowed.",
      answer: ok ? "SSP passed the request on and brought the answer back." : code === "ERROR_COMMUNICATING_TO_ENDPOINT_URL"
        ? "SSP could not get an answer from the old practice's system." : fallback };
  }
  if (e.service === "provider") {
    const doc = /Binary/.test(e.path), part = /getstructuredrecord/.test(e.path);
    const ods = (/^\/([A-Z0-9]+)\//.exec(e.path) || [])[1];
    if (part) {
      return { asked: `The old practice's system (${practiceName(ods)}) was asked for part of ${who}'s record: the areas ticked.`,
        why: "Direct care reads what it needs where the record is; the patient stays registered where they are.",
        answer: ok ? `The areas asked for came back: ${body?.entry?.length ?? 0} entries.` : fallback };
    }
    const lines = {
      NO_RELATIONSHIP: "It refused: PDS does not name the asking practice as the patient's GP.",
      PATIENT_NOT_FOUND: "It answered “patient not found”: it does not release this record (restricted, deceased or unknown).",
      NO_PATIENT_CONSENT: "It refused: the patient has dissented from sharing their record.",
    };
    return { asked: doc ? `The old practice's system (${practiceName(ods)}) was asked for one of the record's documents.`
      : `The old practice's system (${practiceName(ods)}) was asked for ${who}'s whole record.`,
    why: doc ? "Letters and scans travel separately from the structured record." : "This is the transfer itself: the record in structured form, so the new practice's system can file it.",
    answer: ok ? (doc ? "The document came back." : body?.entry ? `The record came back: ${body.entry.length} entries.` : "The record came back.") : lines[code] || fallback };
  }
  if (e.service === "oauth") {
    return { asked: "The new practice signed in to the NHS API platform.", why: "PDS and SDS answer only signed-in applications.", answer: ok ? "It got an access token." : fallback };
  }
  return { asked: `${e.method} ${e.path}`, why: "", answer: fallback };
}

/** Missed hops (a closed stream, a reconnect) are fetched from the journal. */
async function catchUp() {
  if (journeyStart === null) return;
  const entries = await (await fetch(`${BASE}/_admin/journal?since=${journeyStart}`)).json();
  const before = hops.length;
  for (const e of entries) addHop(e, false);
  if (hops.length !== before) drawDiagram();
}

function addHop(entry, draw = true) {
  lastSequence = Math.max(lastSequence, entry.sequence);
  if (journeyStart !== null && entry.sequence <= journeyStart) return;
  if (hops.some((h) => h.sequence === entry.sequence)) return;
  const at = hops.findIndex((h) => h.sequence > entry.sequence);
  if (at >= 0) hops.splice(at, 0, entry); else hops.push(entry);
  if (draw) drawDiagram();
}

/** The live journal. When the stream ends, reconnect from the last entry seen. */
function follow() {
  const source = new EventSource(`${BASE}/_admin/journal?stream=true&since=${lastSequence}`);
  source.addEventListener("entry", (msg) => {
    addHop(JSON.parse(msg.data));
    // A consumer system of your own shows up too: regrade once its hops have settled.
    clearTimeout(regrade);
    regrade = setTimeout(() => { if (!busy) { loadConformance(); loadRecord(); } }, 1500);
  });
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) setTimeout(() => { follow(); catchUp(); }, 1000);
  };
  // The sandbox cuts off a follower that fell behind ("cut"); the browser then reconnects from
  // the last entry it read, and whatever the diagram missed is fetched from the journal.
  source.addEventListener("cut", () => setTimeout(catchUp, 1500));
}

async function loadConformance() {
  const box = $("conformance");
  const report = await (await fetch(BASE + "/_admin/conformance")).json();
  box.replaceChildren();
  if (!report.consumers.length) { box.append(el("p", { class: "empty" }, "No journey in the journal yet.")); return; }
  for (const c of report.consumers) {
    const div = el("div", { class: "consumer", "data-ods": c.ods, "data-verdict": c.verdict });
    div.append(el("h3", {}, `Consumer ${c.ods} (ASID ${c.asids.join(", ") || "none seen"}): ${c.verdict.replace("_", " ")}`));
    for (const j of c.journeys) {
      const evicted = j.start_evicted ? "; its start was dropped from the journal" : "";
      div.append(el("p", { class: "journey-title" }, `${patientName(j.patient)} from ${practiceName(j.previous_practice)} (journal #${j.first_sequence}–#${j.last_sequence})${evicted}: ${j.verdict}`));
      for (const k of j.checks) {
        const row = el("button", { type: "button", class: "check", "data-check": k.id, "data-status": k.status });
        row.append(el("span", { class: `st ${k.status}` }, k.status.replace("_", " ")), document.createTextNode(`${k.title}: ${k.detail}`));
        row.addEventListener("click", () => showCheck(k));
        div.append(row);
      }
    }
    box.append(div);
  }
}

/** A check's rule, its NHS page and the journal entries proving it, each openable. */
async function showCheck(k) {
  const entries = await (await fetch(BASE + "/_admin/journal")).json();
  $("hop-title").textContent = `${k.status.replace("_", " ").toUpperCase()}: ${k.title}`;
  const body = $("hop-body");
  body.replaceChildren(el("p", {}, k.detail), el("p", {}, `Rule: ${k.rule}`));
  const link = el("p", {}, "NHS page: ");
  link.append(el("a", { href: k.url, target: "_blank", rel: "noopener" }, k.url));
  body.append(link, el("h3", {}, "Journal entries"));
  const list = el("ul", { id: "check-entries" });
  for (const seq of k.entries) {
    const e = entries.find((x) => x.sequence === seq);
    const li = el("li", { class: "check-hop", "data-sequence": seq });
    if (e) {
      const b = el("button", { type: "button" }, `#${seq} ${e.service.toUpperCase()} ${hopLabel(e)}`);
      b.addEventListener("click", () => { $("hop-dialog").close(); showHop(e); });
      li.append(b);
    } else li.textContent = `#${seq} (no longer in the journal)`;
    list.append(li);
  }
  body.append(list);
  $("hop-dialog").showModal();
}

/** The newest delivered Bundle, shown as a clinician would read it. */
async function loadRecord() {
  const kept = await (await fetch(BASE + "/_admin/records")).json();
  if (!kept.length) return;
  const d = kept[0];
  // The same record again: keep it as it is (consultations opened stay open).
  if (document.querySelector(`#record[data-sequence="${d.sequence}"]`)) return;
  const bundle = await (await fetch(`${BASE}/_admin/records/${d.sequence}`)).json();
  $("record-view").replaceChildren(window.renderRecord(bundle, d));
}

// Trainer switches: each sets (or removes) one labelled fault rule through the admin API.
const TRAINER = {
  "pds-slow": { service: "pds", latency_ms: 3000, label: "PDS is slow" },
  "ssp-down": { service: "ssp", status: 503, label: "SSP is down" },
  "provider-offline": { service: "provider", drop: true, label: "the old practice's system is offline" },
};
async function syncTrainer() {
  const res = await fetch(BASE + "/_admin/faults");
  const rules = res.ok ? (await res.json()).rules : [];
  for (const button of document.querySelectorAll("#trainer button")) {
    const rule = rules.find((r) => r.label === TRAINER[button.dataset.fault].label);
    button.setAttribute("aria-pressed", rule ? "true" : "false");
    button.dataset.rule = rule ? rule.id : "";
  }
}

// Presenter mode: the last journey, one hop at a time, in large type.
function present() {
  presenterAt = 0;
  $("presenter").hidden = false;
  drawPresenter();
  $("presenter-next").focus();
}
function drawPresenter() {
  const run = lastRun;
  $("presenter-title").textContent = run ? `${run.patient.name}: from ${practiceName(run.from)} to ${practiceName(run.as)}` : "No journey yet";
  $("presenter-story").textContent = [scenario?.description, run?.path ? `This path: ${run.path.about}` : "", run ? pdsShows(run.patient) : ""]
    .filter(Boolean).join(" ");
  const box = $("presenter-hop");
  box.replaceChildren();
  $("presenter-prev").disabled = presenterAt <= 0;
  $("presenter-next").disabled = presenterAt >= hops.length;
  if (!hops.length) {
    $("presenter-count").textContent = "";
    box.append(el("p", {}, "Run a journey first (choose a path), then present it here one hop at a time."));
    return;
  }
  $("presenter-count").textContent = presenterAt < hops.length ? `Hop ${presenterAt + 1} of ${hops.length}` : "Outcome";
  if (presenterAt >= hops.length) {
    if (run) { const [kind, headline, lines] = explainOutcome(run); box.append(banner(kind, headline, ...lines)); }
    return;
  }
  const e = hops[presenterAt];
  const [from, to] = hopLanes(e);
  const x = explainHop(e);
  box.append(el("p", { class: `arrow ${tone(e.status)}` }, `${LANE_NAMES[from][0]} → ${LANE_NAMES[to][0]}`));
  const dl = el("dl");
  dl.append(el("dt", {}, "What was asked"), el("dd", {}, x.asked));
  if (x.why) dl.append(el("dt", {}, "Why"), el("dd", {}, x.why));
  dl.append(el("dt", {}, "What came back"), el("dd", {}, x.answer));
  box.append(dl);
}
function presenterMove(step) {
  presenterAt = Math.min(hops.length, Math.max(0, presenterAt + step));
  drawPresenter();
}

function wire() {
  for (const button of document.querySelectorAll("#trainer button")) {
    button.addEventListener("click", async () => {
      if (button.dataset.rule) await fetch(`${BASE}/_admin/faults/${button.dataset.rule}`, { method: "DELETE" });
      else await fetch(BASE + "/_admin/faults", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(TRAINER[button.dataset.fault]) });
      await syncTrainer();
    });
  }
  $("run-happy").addEventListener("click", () => runJourney("happy"));
  $("run-norel").addEventListener("click", () => runJourney("norel"));
  $("run-sensitive").addEventListener("click", () => runJourney("sensitive"));
  $("run-retrieve").addEventListener("click", () => runJourney("retrieve"));
  for (const box of document.querySelectorAll('#retrieve-areas input[name="area"]')) box.addEventListener("change", updateButtons);
  $("new-practice").addEventListener("change", updateButtons);
  $("hop-close").addEventListener("click", () => $("hop-dialog").close());
  $("refresh-conformance").addEventListener("click", () => { loadConformance(); loadRecord(); });
  $("print-record").addEventListener("click", () => window.print());
  $("present").addEventListener("click", present);
  $("presenter-close").addEventListener("click", () => { $("presenter").hidden = true; $("present").focus(); });
  $("presenter-prev").addEventListener("click", () => presenterMove(-1));
  $("presenter-next").addEventListener("click", () => presenterMove(1));
  document.addEventListener("keydown", (ev) => {
    if ($("presenter").hidden) return;
    if (ev.key === "ArrowRight" || ev.key === "PageDown") { ev.preventDefault(); presenterMove(1); }
    if (ev.key === "ArrowLeft" || ev.key === "PageUp") { ev.preventDefault(); presenterMove(-1); }
    if (ev.key === "Escape") { $("presenter").hidden = true; $("present").focus(); }
    // The presenter is modal: Tab cycles through its own buttons.
    if (ev.key === "Tab") {
      const own = [...$("presenter").querySelectorAll("button:not([disabled])")];
      const at = own.indexOf(document.activeElement);
      const next = at < 0 ? 0 : (at + (ev.shiftKey ? own.length - 1 : 1)) % own.length;
      ev.preventDefault();
      own[next]?.focus();
    }
  });
  // Printed consultations show their entries: open them for the print, close them after.
  let opened = [];
  window.addEventListener("beforeprint", () => {
    opened = [...document.querySelectorAll("#record details:not([open])")];
    for (const d of opened) d.open = true;
  });
  window.addEventListener("afterprint", () => { for (const d of opened) d.open = false; });
  $("reset").addEventListener("click", async () => {
    await fetch(BASE + "/_admin/reset", { method: "POST" });
    journeyStart = lastSequence;
    hops = [];
    lastRun = null;
    drawDiagram();
    $("conformance").replaceChildren(el("p", { class: "empty" }, "No journey in the journal yet."));
    $("record-view").replaceChildren(el("p", { class: "empty" }, "Once a record has arrived it is shown here as the new practice would read it."));
    $("result").replaceChildren();
    $("steps").replaceChildren(el("li", { class: "empty" }, "The sandbox was reset: PDS is as the scenario loaded it."));
    await loadScenario();
    await syncTrainer();
  });
  let width = window.innerWidth;
  window.addEventListener("resize", () => { if (window.innerWidth !== width) { width = window.innerWidth; drawDiagram(); } });
}

/** The trainee worlds (the default world's page only): each with the link to hand out. */
async function loadWorlds() {
  const section = $("worlds-section");
  if (BASE !== "") { section.hidden = true; return; }
  const res = await fetch("/_admin/worlds");
  if (!res.ok) { section.hidden = true; return; }
  const { worlds } = await res.json();
  const list = $("worlds");
  if (!worlds.length) { list.replaceChildren(el("li", { class: "empty" }, "No trainee worlds yet.")); return; }
  list.replaceChildren(...worlds.map((w) => {
    const link = new URL(w.urls.page_with_key, location.href);
    link.host = location.host;
    const item = el("li", {}, `${w.id} (${w.scenario}) · `);
    item.append(el("a", { href: link.href, target: "_blank", rel: "noopener" }, link.href));
    const remove = el("button", { type: "button" }, "Delete");
    remove.addEventListener("click", async () => {
      await fetch(`/_admin/worlds/${w.id}`, { method: "DELETE" });
      await loadWorlds();
    });
    item.append(" ", remove);
    return item;
  }));
}

$("new-world").addEventListener("click", async () => {
  await fetch("/_admin/worlds", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ scenario: "default" }) });
  await loadWorlds();
});

wire();
loadWorlds();
// On a phone the patient list starts folded: the paths above the journey do most of the work.
if (window.matchMedia("(max-width: 720px)").matches) $("patients-box").open = false;
loadScenario().then(async () => {
  const journal = await (await fetch(BASE + "/_admin/journal")).json();
  lastSequence = journal.reduce((m, e) => Math.max(m, e.sequence), 0);
  journeyStart = lastSequence;
  drawDiagram();
  follow();
  syncTrainer();
});
