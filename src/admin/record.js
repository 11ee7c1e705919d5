// The record received, drawn from the delivered Bundle as a clinician reads a GP record: UK dates,
// newest first within each section, linked items named as clinical things, withheld and
// confidential items marked, every item once. Used by page.js (window.renderRecord).
"use strict";

// The world this page belongs to: "" for the default world, "/worlds/ID" under a world's prefix
// (docs/worlds.md). Every call the page makes goes to its own world.
const BASE = location.pathname.replace(/\/+$/, "");

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** "2014-12-07" or "2014-12-07T10:00:00+00:00" → "7 Dec 2014"; partial dates stay partial. */
function ukDate(iso) {
  if (!iso) return "";
  const m = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?/.exec(iso);
  if (!m) return iso;
  const [, y, mo, d] = m;
  if (!mo) return y;
  const month = MONTHS[Number(mo) - 1] || mo;
  return d ? `${Number(d)} ${month} ${y}` : `${month} ${y}`;
}

/** 9434761018 → "943 476 1018", the way the NHS prints an NHS number. */
function nhsNumber(n) {
  return /^\d{10}$/.test(n || "") ? `${n.slice(0, 3)} ${n.slice(3, 6)} ${n.slice(6)}` : (n || "not given");
}

// A direct-care retrieve asks for some areas: each parameter as a clinician names the area, and
// the sections of the record view each area fills.
const AREA_NAMES = {
  includeAllergies: "Allergies", includeMedication: "Medication", includeConsultations: "Consultations",
  includeProblems: "Problems", includeImmunisations: "Immunisations", includeUncategorisedData: "Other entries",
  includeInvestigations: "Investigations", includeReferrals: "Referrals", includeDiaryEntries: "Diary",
};
const SECTION_AREA = {
  "Allergies and adverse reactions": "includeAllergies", "Ended allergies": "includeAllergies",
  "Active problems": "includeProblems", "Past problems": "includeProblems",
  "Current medication": "includeMedication", "Past medication": "includeMedication",
  Immunisations: "includeImmunisations", "Investigations and results": "includeInvestigations",
  "Measurements and other entries": "includeUncategorisedData", Consultations: "includeConsultations",
  Referrals: "includeReferrals", "Diary and recalls": "includeDiaryEntries",
};

function renderRecord(bundle, delivery) {
  const mk = (tag, attrs = {}, text) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const res = (bundle.entry || []).map((e) => e.resource).filter(Boolean);
  const lists = res.filter((r) => r.resourceType === "List");
  // Resources by reference; a List's contained items (ended allergies) by "#id" too.
  const byRef = new Map();
  for (const r of res) if (r.id) byRef.set(`${r.resourceType}/${r.id}`, r);
  for (const l of lists) for (const c of l.contained || []) if (c.id) byRef.set(`#${c.id}`, c);
  const get = (ref) => (ref && ref.reference ? byRef.get(ref.reference) : undefined);
  const of = (t) => res.filter((r) => r.resourceType === t);
  // A clinician reads the SNOMED CT term; real exports may put a Read v2 or CTV3 coding first.
  const SNOMED = "http://snomed.info/sct";
  const text = (cc) => {
    if (!cc) return "";
    const codings = cc.coding || [];
    return cc.text || codings.find((c) => c.system === SNOMED && c.display)?.display
      || codings.map((c) => c.display).find(Boolean) || "";
  };
  const ext = (r, name) => (r.extension || []).find((e) => (e.url || "").includes(name));
  const nopat = (r) => (r.meta?.security || []).some((s) => s.code === "NOPAT");
  const newestFirst = (date) => (a, b) => (date(b) || "").localeCompare(date(a) || "");
  const person = (ref) => {
    const p = get(ref);
    if (!p) return "";
    const n = (p.name || [])[0] || {};
    return `${(n.prefix || []).join(" ")} ${(n.given || []).join(" ")} ${n.family || ""}`.replace(/\s+/g, " ").trim();
  };
  // UCUM as printed on a result slip: "mm[Hg]" → "mmHg", "10*9/L" → "×10⁹/L".
  const SUP = "⁰¹²³⁴⁵⁶⁷⁸⁹";
  const unit = (u) => (u || "").replace(/[[\]]/g, "").replace(/^10\*(\d+)/, (_, n) => `×10${[...n].map((d) => SUP[d]).join("")}`);
  const quantity = (q) => q ? `${Number.isInteger(q.value) ? q.value : +Number(q.value).toFixed(2)}${q.unit ? " " + unit(q.unit) : ""}` : "";
  const notes = (r) => [...(r.note || []).map((n) => n.text), r.comment].filter(Boolean).join(" ");

  const medName = (m) => text(get(m.medicationReference)?.code) || text(m.medicationCodeableConcept) || "a medicine";
  const vaccination = (i) => text(ext(i, "VaccinationProcedure")?.valueCodeableConcept) || text(i.vaccineCode) || "a vaccination";
  const obsValue = (o) => {
    if (o.valueQuantity) return quantity(o.valueQuantity);
    if (o.valueString) return o.valueString;
    if (o.valueCodeableConcept) return text(o.valueCodeableConcept);
    const parts = (o.component || []).filter((c) => c.valueQuantity);
    if (parts.length === 2 && parts[0].valueQuantity.unit === parts[1].valueQuantity.unit) {
      return `${+parts[0].valueQuantity.value}/${+parts[1].valueQuantity.value} ${unit(parts[0].valueQuantity.unit)}`;
    }
    return parts.map((c) => `${text(c.code)} ${quantity(c.valueQuantity)}`).join(", ");
  };
  const range = (o) => {
    const r = (o.referenceRange || [])[0];
    if (!r) return "";
    if (r.text) return r.text;
    if (r.low && r.high) return `${r.low.value}–${quantity(r.high)}`;
    return r.low ? `above ${quantity(r.low)}` : r.high ? `below ${quantity(r.high)}` : "";
  };
  // The name of an investigation: what was asked for, else its first group of results.
  const reportName = (d) => text(get((d.basedOn || [])[0])?.code)
    || (d.result || []).map((x) => get(x)).filter(Boolean).map((o) => text(o.code)).find((t) => t && t !== "Comment note")
    || text(d.code) || "Investigation";

  /** A linked item named as the clinical thing it is. */
  const named = (r) => {
    if (!r) return "an item not in this record";
    switch (r.resourceType) {
      case "MedicationRequest": case "MedicationStatement": return `medicine: ${medName(r)}`;
      case "Observation": {
        const v = obsValue(r);
        return `${text(r.code) || "observation"}${v ? " " + v : ""}${r.effectiveDateTime ? ", " + ukDate(r.effectiveDateTime) : ""}`;
      }
      case "Encounter": return `consultation: ${text((r.type || [])[0]) || "consultation"}, ${ukDate(r.period?.start)}`;
      case "DiagnosticReport": return `test results: ${reportName(r)}, ${ukDate(r.issued || r.effectiveDateTime)}`;
      case "ReferralRequest": return `referral: ${r.description || text((r.reasonCode || [])[0]) || "referral"}`;
      case "Immunization": return `immunisation: ${vaccination(r)}, ${ukDate(r.date)}`;
      case "ProcedureRequest": return `diary: ${text(r.code) || "planned care"}`;
      case "AllergyIntolerance": return `allergy: ${text(r.code)}`;
      case "DocumentReference": return `document: ${r.description || text(r.type) || "document"}`;
      case "Condition": return `problem: ${text(r.code)}`;
      case "List": return r.title || "a group of entries";
      default: return "a record entry";
    }
  };

  const seen = new Set();
  /** One list item: a headline, a detail line, flags; each resource shown once per section. */
  const item = (r, headline, details = [], cls) => {
    const li = mk("li", cls ? { class: cls } : {});
    const head = mk("div", { class: "headline" }, headline);
    if (nopat(r)) head.append(mk("span", { class: "flag", title: "A confidential item, included because sensitive information was requested" }, "Confidential"));
    li.append(head);
    const line = details.filter(Boolean).join(" · ");
    if (line) li.append(mk("div", { class: "detail" }, line));
    return li;
  };
  const withheldNote = (...titles) => lists.some((l) => titles.includes(l.title) && (l.extension || []).some((e) => e.valueCode === "confidential-items"))
    ? "Some items were withheld as confidential: the old practice marks the section, it does not say how many." : "";
  const section = (title, rows, withheld, empty = "None recorded") => {
    const s = mk("section", { "data-section": title, "aria-label": title });
    s.append(mk("h3", {}, title));
    if (withheld) s.append(mk("p", { class: "withheld" }, withheld));
    if (rows.length) {
      const ul = mk("ul");
      ul.append(...rows);
      s.append(ul);
    } else {
      s.append(mk("p", { class: "empty" }, empty));
    }
    return s;
  };

  const p = of("Patient")[0] || {};
  const name = (p.name || [])[0] || {};
  const org = of("Organization").find((o) => (o.identifier || []).some((i) => i.value === delivery.provider_ods)) || of("Organization")[0] || {};
  const root = mk("article", { class: "record", id: "record", "data-sequence": String(delivery.sequence) });
  const title = mk("div", { class: "record-head" });
  title.append(mk("h3", { class: "patient-name" }, `${(name.prefix || []).join(" ")} ${(name.given || []).join(" ")} ${name.family || ""}`.replace(/\s+/g, " ").trim() || "Patient"));
  const born = p.birthDate ? `${ukDate(p.birthDate)}` : "not given";
  const address = (p.address || [])[0];
  const facts = [
    ["NHS number", nhsNumber((p.identifier || []).find((i) => (i.system || "").endsWith("/nhs-number"))?.value)],
    ["Born", born], ["Gender", p.gender ? p.gender[0].toUpperCase() + p.gender.slice(1) : "not given"],
    ["Address", address ? [...(address.line || []), address.city, address.postalCode].filter(Boolean).join(", ") : "not shown"],
    ["Record from", `${org.name || delivery.provider_ods} (${delivery.provider_ods})`],
    ["Requested by", delivery.requesting_ods],
    ["Sensitive information", delivery.areas ? "never sent for direct care: confidential items withheld"
      : delivery.sensitive ? "requested: confidential items included" : "not requested: confidential items withheld"],
  ];
  const asked = delivery.areas;
  if (asked) facts.splice(6, 0, ["Asked for", asked.map((a) => AREA_NAMES[a] || a).join(", ")]);
  const dl = mk("dl", { class: "facts" });
  for (const [k, v] of facts) dl.append(mk("dt", {}, k), mk("dd", {}, v));
  title.append(dl);
  if (asked) {
    const left = Object.keys(AREA_NAMES).filter((a) => !asked.includes(a)).map((a) => AREA_NAMES[a].toLowerCase());
    title.append(mk("p", { class: "partial-note" }, `A partial record, read for direct care: only the areas asked for were sent${left.length ? ` (not ${left.join(", ")})` : ""}.`));
  }
  root.append(title);

  // Allergies: current, then ended (kept as contained items of the "Ended allergies" List).
  const allergyRow = (a, ended) => {
    const reactions = (a.reaction || []).map((x) => [x.description || (x.manifestation || []).map(text).join(", "), x.severity ? `${x.severity} severity` : ""].filter(Boolean).join(", ")).filter(Boolean);
    return item(a, text(a.code) || "Allergy", [
      reactions.length ? `reaction: ${reactions.join("; ")}` : "",
      notes(a),
      `recorded ${ukDate(a.assertedDate || a.onsetDateTime)}`,
      ended ? `ended ${ukDate(ext(a, "AllergyIntoleranceEnd")?.extension?.find((e) => e.url === "endDate")?.valueDateTime) || ""}`.trim() : "",
    ], ended ? "past" : undefined);
  };
  const allergyKey = (a) => (a.identifier || []).map((i) => i.value).join("|") || a.id;
  const currentAllergies = [], endedAllergies = [];
  const allergyLists = lists.filter((l) => ["Allergies and adverse reactions", "Ended allergies"].includes(l.title));
  const allergySources = [...of("AllergyIntolerance"), ...allergyLists.flatMap((l) => l.contained || []).filter((r) => r.resourceType === "AllergyIntolerance")];
  for (const a of allergySources.sort(newestFirst((x) => x.assertedDate || x.onsetDateTime))) {
    const key = allergyKey(a);
    if (seen.has(`allergy:${key}`)) continue;
    seen.add(`allergy:${key}`);
    (a.clinicalStatus === "resolved" || a.clinicalStatus === "inactive" ? endedAllergies : currentAllergies).push(a);
  }
  root.append(section("Allergies and adverse reactions", currentAllergies.map((a) => allergyRow(a, false)), withheldNote("Allergies and adverse reactions"), "No known allergies recorded"));
  if (endedAllergies.length) root.append(section("Ended allergies", endedAllergies.map((a) => allergyRow(a, true))));

  // Problems, with what they are linked to.
  const problemRow = (c, past) => {
    const links = (c.extension || []).filter((e) => (e.url || "").includes("RelatedClinicalContent")).map((e) => get(e.valueReference));
    const linkNames = [...new Set(links.map(named))];
    const li = item(c, text(c.code) || "Problem", [
      ext(c, "ProblemSignificance")?.valueCode === "major" ? "major" : "minor",
      c.onsetDateTime ? `since ${ukDate(c.onsetDateTime)}` : "",
      c.abatementDateTime ? `ended ${ukDate(c.abatementDateTime)}` : "",
      notes(c),
    ], past ? "past" : undefined);
    if (linkNames.length) {
      const ul = mk("ul", { class: "linked", "aria-label": "linked to" });
      for (const n of linkNames) ul.append(mk("li", {}, n));
      li.append(mk("div", { class: "detail" }, "Linked to:"), ul);
    }
    return li;
  };
  const conditions = of("Condition").sort(newestFirst((c) => c.onsetDateTime));
  root.append(section("Active problems", conditions.filter((c) => c.clinicalStatus === "active").map((c) => problemRow(c, false)), withheldNote("Problems")));
  root.append(section("Past problems", conditions.filter((c) => c.clinicalStatus !== "active").map((c) => problemRow(c, true))));

  // Medication: the statement with its plan (quantity, type) and the last issue date.
  const medRow = (m, past) => {
    const plan = (m.basedOn || []).map(get).find(Boolean) || {};
    const type = text(ext(plan, "PrescriptionType")?.valueCodeableConcept);
    const qty = plan.dispenseRequest?.quantity;
    return item(m, medName(m), [
      (m.dosage || [])[0]?.text || (plan.dosageInstruction || [])[0]?.text || "",
      qty ? `quantity ${quantity(qty)}` : "",
      type ? type.toLowerCase() : "",
      `started ${ukDate(m.effectivePeriod?.start || plan.authoredOn)}`,
      ext(m, "LastIssueDate")?.valueDateTime ? `last issued ${ukDate(ext(m, "LastIssueDate").valueDateTime)}` : "",
      past && m.effectivePeriod?.end ? `ended ${ukDate(m.effectivePeriod.end)}` : "",
    ], past ? "past" : undefined);
  };
  const statements = of("MedicationStatement").sort(newestFirst((m) => m.effectivePeriod?.start));
  root.append(section("Current medication", statements.filter((m) => m.status === "active").map((m) => medRow(m, false)), withheldNote("Medications and medical devices")));
  root.append(section("Past medication", statements.filter((m) => m.status !== "active").map((m) => medRow(m, true))));

  // Immunisations, with dose and batch when the Bundle carries them.
  root.append(section("Immunisations", of("Immunization").sort(newestFirst((i) => i.date)).map((i) => {
    const protocol = (i.vaccinationProtocol || [])[0] || {};
    return item(i, vaccination(i), [
      ukDate(i.date),
      protocol.doseSequence ? `dose ${protocol.doseSequence}${protocol.seriesDoses ? " of " + protocol.seriesDoses : ""}` : "",
      i.doseQuantity ? `amount ${quantity(i.doseQuantity)}` : "",
      i.lotNumber ? `batch ${i.lotNumber}` : "",
      get(i.manufacturer)?.name || i.manufacturer?.display ? `made by ${get(i.manufacturer)?.name || i.manufacturer.display}` : "",
      i.expirationDate ? `expires ${ukDate(i.expirationDate)}` : "",
      text(i.site) ? `site: ${text(i.site)}` : "",
      i.notGiven ? "not given" : "",
      notes(i),
    ]);
  }), withheldNote("Immunisations")));

  // Investigations: each report with its results, a group's members under it.
  const resultRows = (o, depth = 0) => {
    const members = (o.related || []).filter((r) => r.type === "has-member").map((r) => get(r.target)).filter(Boolean);
    if (members.length && depth < 3) return members.flatMap((m) => resultRows(m, depth + 1));
    if (text(o.code) === "Comment note" || (!obsValue(o) && notes(o))) return [];
    const interp = text(o.interpretation);
    return [[text(o.code) || "result", obsValue(o) || "no value", range(o) ? `range ${range(o)}` : "", interp]];
  };
  const reportComments = (d) => (d.result || []).map(get).filter(Boolean).flatMap((o) => [o, ...(o.related || []).map((r) => get(r.target)).filter(Boolean)])
    .filter((o) => text(o.code) === "Comment note" || (!obsValue(o) && notes(o))).map(notes).filter(Boolean);
  root.append(section("Investigations and results", of("DiagnosticReport").sort(newestFirst((d) => d.issued || d.effectiveDateTime)).map((d) => {
    const li = item(d, reportName(d), [ukDate(d.issued || d.effectiveDateTime), ...reportComments(d)]);
    const rows = (d.result || []).map(get).filter(Boolean).flatMap((o) => resultRows(o));
    if (rows.length) {
      const ul = mk("ul", { class: "results" });
      for (const [n, v, r, i] of rows) {
        const row = mk("li");
        row.append(mk("span", { class: "result-name" }, n), mk("span", { class: "result-value" }, v));
        if (r) row.append(mk("span", { class: "result-range" }, r));
        if (i) row.append(mk("span", { class: "flag" }, i));
        ul.append(row);
      }
      li.append(ul);
    }
    return li;
  }), withheldNote("Investigations and results")));

  // Other entries (the uncategorised data): measurements and findings.
  const uncategorised = lists.find((l) => l.title === "Uncategorised data");
  const otherObs = (uncategorised?.entry || []).map((e) => get(e.item)).filter((o) => o && o.resourceType === "Observation");
  root.append(section("Measurements and other entries", otherObs.sort(newestFirst((o) => o.effectiveDateTime)).map((o) => {
    const v = obsValue(o);
    return item(o, text(o.code) || "Entry", [v, ukDate(o.effectiveDateTime), notes(o)]);
  }), withheldNote("Uncategorised data")));

  // Consultations: a timeline, each opening to its topics and entries.
  const consultList = (enc) => lists.find((l) => l.encounter?.reference === `Encounter/${enc.id}` && text(l.code) === "Consultation");
  const entryName = (r) => {
    if (!r) return "an entry not in this record";
    if (r.resourceType === "Observation" && text(r.code) === "Comment note") return notes(r) || "comment";
    if (r.resourceType === "Observation") return `${text(r.code)}${obsValue(r) ? ": " + obsValue(r) : ""}${notes(r) ? " (" + notes(r) + ")" : ""}`;
    if (r.resourceType === "MedicationRequest") return `${medName(r)}${(r.dosageInstruction || [])[0]?.text ? ", " + r.dosageInstruction[0].text : ""}`;
    if (r.resourceType === "Condition") return `problem: ${text(r.code)}`;
    return named(r);
  };
  const encounters = of("Encounter").sort(newestFirst((e) => e.period?.start));
  const timeline = encounters.map((enc) => {
    const li = mk("li", { class: "consultation" });
    const det = mk("details");
    const who = person((enc.participant || []).find((x) => (x.type || []).some((t) => (t.coding || []).some((c) => c.code === "PPRF")))?.individual);
    const summary = mk("summary");
    summary.append(mk("span", { class: "when" }, ukDate(enc.period?.start)), mk("span", { class: "headline" }, text((enc.type || [])[0]) || "Consultation"));
    if (who) summary.append(mk("span", { class: "detail" }, who));
    if (nopat(enc)) summary.append(mk("span", { class: "flag" }, "Confidential"));
    det.append(summary);
    const topics = (consultList(enc)?.entry || []).map((e) => get(e.item)).filter(Boolean);
    const ul = mk("ul", { class: "topics" });
    for (const topic of topics) {
      const tli = mk("li");
      const heading = topic.title || text(topic.code) === "Topic (EHR)" ? (topic.title || "General") : text(topic.code);
      tli.append(mk("div", { class: "topic" }, heading));
      const cats = mk("ul");
      for (const cat of (topic.entry || []).map((e) => get(e.item)).filter(Boolean)) {
        const catName = (cat.title || text(cat.code) || "").replace(/ Category \(EHR\)$/, "");
        for (const entry of (cat.entry || []).map((e) => get(e.item))) {
          const cli = mk("li");
          cli.append(mk("span", { class: "category" }, `${catName}: `), document.createTextNode(entryName(entry)));
          cats.append(cli);
        }
      }
      tli.append(cats);
      ul.append(tli);
    }
    if (!topics.length) ul.append(mk("li", { class: "empty" }, "No entries sent for this consultation"));
    det.append(ul);
    li.append(det);
    return li;
  });
  const consultations = section("Consultations", timeline, withheldNote("List of consultations"));
  consultations.querySelector("ul")?.classList.add("timeline");
  root.append(consultations);

  root.append(section("Referrals", of("ReferralRequest").sort(newestFirst((r) => r.authoredOn)).map((r) => item(r, r.description || text((r.serviceRequested || [])[0]) || "Referral", [
    ukDate(r.authoredOn), text((r.reasonCode || [])[0]) ? `reason: ${text(r.reasonCode[0])}` : "", r.priority && r.priority !== "routine" ? r.priority : "", notes(r),
  ])), withheldNote("Outbound referral")));

  const recalls = lists.find((l) => l.title === "Patient recall administration");
  const diary = (recalls?.entry || []).map((e) => get(e.item)).filter(Boolean);
  root.append(section("Diary and recalls", diary.sort(newestFirst((d) => d.occurrenceDateTime || d.authoredOn)).map((d) => item(d, text(d.code) || "Planned care", [
    d.occurrenceDateTime ? `due ${ukDate(d.occurrenceDateTime)}` : (d.authoredOn ? `added ${ukDate(d.authoredOn)}` : ""), notes(d),
  ])), withheldNote("Patient recall administration")));

  root.append(section("Documents", of("DocumentReference").sort(newestFirst((d) => d.created || d.indexed)).map((doc) => {
    const att = doc.content?.[0]?.attachment || {};
    const li = item(doc, doc.description || text(doc.type) || "Document", [
      text(doc.type), ukDate(doc.created || doc.indexed), att.size !== undefined ? `${Math.max(1, Math.round(att.size / 1024))} KB` : "",
    ]);
    const id = (att.url || "").split("/Binary/")[1];
    if (id) {
      const a = mk("a", { class: "open-document", href: `${BASE}/_admin/records/${delivery.sequence}/documents/${id}`, target: "_blank", rel: "noopener" }, "Open the document");
      li.append(a);
    }
    return li;
  })));
  if (asked) partial(root, asked, mk);
  return root;
}

/** Leaves out the sections of areas not asked for; problems linked to what was asked stay, marked. */
function partial(root, asked, mk) {
  root.classList.add("partial");
  root.dataset.areas = asked.join(" ");
  for (const s of [...root.querySelectorAll("section[data-section]")]) {
    const area = SECTION_AREA[s.dataset.section];
    if (area && asked.includes(area)) continue;
    const rows = s.querySelector("li");
    if (area === "includeProblems" && rows) {
      s.dataset.linked = "true";
      s.querySelector("h3").after(mk("p", { class: "withheld" }, "Not asked for: sent because an item asked for is linked to it."));
    } else if (area || !rows) {
      s.remove();
    }
  }
}

window.renderRecord = renderRecord;
window.AREA_NAMES = AREA_NAMES;
