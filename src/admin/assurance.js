// The provider check on the trainers' page: choose a practice whose GP Connect provider (built in
// or a supplier's own, named in the scenario with external_provider) is to be graded, run the
// check through the admin API (POST /_admin/provider-check), and show each check with its
// verdict, its rule and NHS source, what was seen, and the journal hops that prove it.
"use strict";

(() => {
  const MIGRATE_INTERACTION = "urn:nhs:names:services:gpconnect:fhir:operation:gpc.migratestructuredrecord-1";
  const $id = (id) => document.getElementById(id);
  const make = (tag, attrs = {}, text) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const LABEL = { pass: "pass", fail: "fail", not_reached: "not reached" };

  /** The source as text with its URLs as links (a source may name a file after its URL). */
  function sourceLine(source) {
    const p = make("p", { class: "pc-source" }, "NHS source: ");
    for (const part of source.split(/(https:\/\/\S+)/)) {
      if (/^https:\/\//.test(part)) p.append(make("a", { href: part, target: "_blank", rel: "noopener" }, part));
      else if (part) p.append(document.createTextNode(part));
    }
    return p;
  }

  function showReport(report) {
    const box = $id("provider-check");
    const count = (s) => report.checks.filter((c) => c.status === s).length;
    const failed = count("fail");
    const summary = make("p", { class: `pc-summary ${failed ? "fail" : "pass"}`, id: "provider-check-summary", "data-failed": String(failed) },
      `${report.practice}, asked as ${report.consumer}: ${count("pass")} passed, ${failed} failed, ${count("not_reached")} not reached.`);
    const list = make("ol", { class: "pc-checks", "aria-label": "The provider check's checks" });
    for (const c of report.checks) {
      const item = make("li", { class: "pc-check", "data-check": c.id, "data-status": c.status });
      const details = make("details");
      if (c.status === "fail") details.open = true;
      const head = make("summary");
      head.append(make("span", { class: `st ${c.status}` }, LABEL[c.status] || c.status), make("strong", {}, c.id), document.createTextNode(`: ${c.detail}`));
      details.append(head, make("p", { class: "pc-rule" }, `Rule: ${c.rule}`), sourceLine(c.source));
      if (c.hops.length) {
        details.append(make("p", { class: "pc-hops-title" }, "Journal hops that prove it:"));
        const hops = make("ul", { class: "pc-hops" });
        for (const h of c.hops) hops.append(make("li", {}, h));
        details.append(hops);
      } else {
        details.append(make("p", { class: "empty" }, "No journal hop: nothing was sent for this check."));
      }
      item.append(details);
      list.append(item);
    }
    box.replaceChildren(summary, list);
  }

  async function run() {
    const button = $id("run-provider-check");
    const practice = $id("check-practice").value;
    const box = $id("provider-check");
    button.disabled = true;
    box.replaceChildren(make("p", { class: "pc-running" }, `Checking ${practice}'s provider through SSP: PDS registrations change and are put back as it goes…`));
    try {
      const resp = await fetch(`${BASE}/_admin/provider-check?practice=${encodeURIComponent(practice)}`, { method: "POST" });
      const body = await resp.json();
      if (resp.ok) showReport(body);
      else box.replaceChildren(make("p", { class: "pc-summary fail" }, body.issue?.[0]?.diagnostics || `The check could not run (HTTP ${resp.status}).`));
    } catch (e) {
      box.replaceChildren(make("p", { class: "pc-summary fail" }, "The sandbox did not answer the provider check."));
    } finally {
      button.disabled = false;
    }
  }

  async function load() {
    const resp = await fetch(BASE + "/_admin/scenario");
    if (!resp.ok) return;
    const scenario = await resp.json();
    // Practices SDS lists as migrate providers: the built-in ones, and those naming their own.
    const providers = scenario.practices.filter((p) => p.provider !== false && (p.interactions || []).includes(MIGRATE_INTERACTION));
    const select = $id("check-practice");
    select.replaceChildren(...providers.map((p) => make("option", { value: p.ods }, `${p.ods} ${p.name}${p.external_provider ? " (external provider)" : ""}`)));
    $id("run-provider-check").disabled = providers.length === 0;
  }

  $id("run-provider-check").addEventListener("click", run);
  load();
})();
