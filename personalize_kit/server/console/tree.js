// The resource tree: nested <details> lists (keyboard and screen-reader friendly), states as text badges.

import {arnTail, badge, h, timeAgo} from "./dom.js";

const closed = new Set(); // keys of the branches a person folded; they stay folded across polls

function when(resource) {
  return timeAgo(resource.lastUpdatedDateTime || resource.creationDateTime);
}

function row(kind, name, resource, ...extra) {
  return h("span", {className: "row"},
    h("span", {className: "kind"}, kind),
    h("span", {className: "name", title: resource.arn || undefined}, name),
    badge(resource.status, resource.failureReason),
    ...extra,
    when(resource));
}

function reason(resource) {
  return resource.failureReason ? h("p", {className: "reason"}, resource.failureReason) : null;
}

function branch(key, summary, children) {
  const items = children.flat().filter(Boolean);
  if (!items.length) return h("li", {className: "leaf"}, summary);
  const details = h("details", {open: !closed.has(key)}, h("summary", {dataset: {focus: key}}, summary),
    h("ul", {}, items));
  details.addEventListener("toggle", () => (details.open ? closed.delete(key) : closed.add(key)));
  return h("li", {}, details);
}

function section(key, title, children) {
  if (!children.length) return null;
  return branch(key, h("span", {className: "section"}, `${title} `, h("span", {className: "count"},
    String(children.length))), children);
}

function leaf(...content) {
  return h("li", {className: "leaf"}, ...content);
}

function datasetNode(d) {
  const jobs = [
    ...d.importJobs.map((j) => leaf(row("import", j.jobName, j, j.importMode ? tag(j.importMode) : null), reason(j))),
    ...d.exportJobs.map((j) => leaf(row("export", j.jobName, j), reason(j))),
  ];
  return branch(d.datasetArn, row(d.datasetType.toLowerCase(), d.name, d), jobs);
}

function tag(text) {
  return h("span", {className: "tag"}, text);
}

function versionNode(v, serving) {
  const flags = [tag(v.trainingMode || "FULL")];
  if (serving.has(v.solutionVersionArn)) flags.push(h("span", {className: "tag live"}, "deployed"));
  const jobs = v.batchJobs.map((j) => leaf(row("batch job", j.jobName, j), reason(j)));
  return branch(v.solutionVersionArn, row("version", arnTail(v.solutionVersionArn), v, ...flags),
    [reason(v) && leaf(reason(v)), ...jobs]);
}

// Campaigns of these recipes rank an input list (GetPersonalizedRanking): the playground does not list them.
const RANKING = /personalized-ranking/;

function campaignNode(c, recipeArn, onTry) {
  const tryIt = c.status === "ACTIVE" && !RANKING.test(recipeArn)
    ? h("button", {type: "button", className: "link", onclick: () => onTry(c.campaignArn),
      dataset: {focus: c.campaignArn}, "aria-label": `Try campaign ${c.name} in the playground`}, "Try")
    : null;
  const pending = c.latestCampaignUpdate && c.latestCampaignUpdate.status !== "ACTIVE"
    ? h("span", {className: "tag"}, `update ${c.latestCampaignUpdate.status}`) : null;
  return leaf(row("campaign", c.name, c, pending, tryIt), reason(c));
}

function solutionNode(sol, onTry) {
  const serving = new Set(sol.campaigns.map((c) => c.solutionVersionArn));
  const recipe = arnTail(sol.recipeArn);
  return branch(sol.solutionArn, row("solution", sol.name, sol, tag(recipe)), [
    ...sol.versions.map((v) => versionNode(v, serving)),
    ...sol.campaigns.map((c) => campaignNode(c, sol.recipeArn, onTry)),
  ]);
}

function groupNode(g, onTry) {
  const key = g.datasetGroupArn;
  return branch(key, row("dataset group", g.name, g, g.domain ? tag(g.domain) : null), [
    reason(g) && leaf(reason(g)),
    section(`${key}#datasets`, "Datasets", g.datasets.map(datasetNode)),
    section(`${key}#solutions`, "Solutions", g.solutions.map((sol) => solutionNode(sol, onTry))),
    section(`${key}#recommenders`, "Recommenders", g.recommenders.map((r) => leaf(
      row("recommender", r.name, r, tag(arnTail(r.recipeArn)),
        r.status === "ACTIVE" ? h("button", {type: "button", className: "link", dataset: {focus: r.recommenderArn},
          onclick: () => onTry(r.recommenderArn), "aria-label": `Try recommender ${r.name}`}, "Try") : null),
      reason(r)))),
    section(`${key}#trackers`, "Event trackers", g.trackers.map((t) => leaf(row("event tracker", t.name, t)))),
    section(`${key}#filters`, "Filters", g.filters.map((f) => leaf(row("filter", f.name, f), reason(f)))),
  ]);
}

/** Render the snapshot into ``container``; ``onTry(arn)`` picks a campaign or recommender in the playground. */
export function renderTree(container, snapshot, onTry) {
  if (!snapshot.groups.length) {
    container.replaceChildren(h("div", {className: "empty"},
      h("p", {}, "No dataset groups yet."),
      h("p", {className: "hint"}, "Create one with ", h("code", {}, "python -m personalize_kit pipeline"),
        " or any AWS SDK pointed at this endpoint; it appears here within seconds.")));
    return;
  }
  // a re-render (states change while a person reads) keeps the keyboard focus where it was
  const focused = container.contains(document.activeElement) ? document.activeElement.dataset.focus : undefined;
  container.replaceChildren(h("ul", {className: "tree"}, snapshot.groups.map((g) => groupNode(g, onTry))));
  if (focused) {
    const again = container.querySelector(`[data-focus="${CSS.escape(focused)}"]`);
    if (again) again.focus();
  }
}
