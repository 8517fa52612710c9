// The recommendations playground: pick a campaign (or recommender) and a user, see the top N with the
// items' metadata, and send "watched" events through the dataset group's event tracker.

import {ApiError, control, getRecommendations, putEvents} from "./api.js";
import {arnTail, fill, h} from "./dom.js";
import {servables} from "./resources.js";

const EVENT_TYPE = "watch"; // unless the solution trains on one event type (its eventType)
const USERS_KEY = "personalize-kit-console-users";
const MAX_IMPRESSION = 25; // PutEvents takes at most 25 impression item ids per event
const TITLE_COLUMN = /^(TITLE|NAME|ITEM_NAME|PRODUCT_NAME|PRODUCT_TITLE)$|TITLE/i;
const GENRE_COLUMN = /GENRE|CATEGOR/i;
const ITEM_BASED = /more-like|frequently-bought|customers-who-viewed|similar/i;
const recipeTypes = new Map(); // recipe ARN -> recipeType
const described = new Map(); // cache key -> a Promise of a Describe* answer
const sessionId = `console-${Math.random().toString(36).slice(2, 10)}`;

const $ = (id) => document.getElementById(id);
const state = {choices: [], context: null, previous: new Map(), history: [], ticket: 0, typed: {}, shown: null};

function once(key, load) {
  if (!described.has(key)) described.set(key, load().catch((err) => {
    described.delete(key);
    throw err;
  }));
  return described.get(key);
}

async function recipeType(choice) {
  if (choice.kind === "recommender") {
    return ITEM_BASED.test(choice.recipeArn) ? "RELATED_ITEMS" : "USER_PERSONALIZATION";
  }
  if (!recipeTypes.has(choice.recipeArn)) {
    const {recipe} = await control("DescribeRecipe", {recipeArn: choice.recipeArn});
    recipeTypes.set(choice.recipeArn, recipe.recipeType);
  }
  return recipeTypes.get(choice.recipeArn);
}

/** The Items dataset's columns to ask for: a title-like and a genre-like one, else the first two. */
async function metadataColumns(group) {
  const items = group.datasets.find((d) => d.datasetType === "ITEMS" && d.status === "ACTIVE");
  if (!items) return [];
  const {dataset} = await once(items.datasetArn, () => control("DescribeDataset", {datasetArn: items.datasetArn}));
  const {schema} = await once(dataset.schemaArn, () => control("DescribeSchema", {schemaArn: dataset.schemaArn}));
  const names = JSON.parse(schema.schema).fields.map((f) => f.name).filter((n) => n !== "ITEM_ID");
  const title = names.find((n) => TITLE_COLUMN.test(n));
  const genre = names.find((n) => GENRE_COLUMN.test(n));
  const chosen = [title, genre].filter(Boolean);
  return chosen.length ? chosen : names.filter((n) => !/TIMESTAMP/.test(n)).slice(0, 2);
}

async function trackingId(group) {
  const tracker = group.trackers.find((t) => t.status === "ACTIVE");
  if (!tracker) return null;
  const answer = await once(tracker.eventTrackerArn,
    () => control("DescribeEventTracker", {eventTrackerArn: tracker.eventTrackerArn}));
  return answer.eventTracker.trackingId;
}

async function usableFilters(group) {
  const active = group.filters.filter((f) => f.status === "ACTIVE");
  const all = await Promise.all(active.map((f) => once(f.filterArn,
    () => control("DescribeFilter", {filterArn: f.filterArn}))));
  // Filters with $placeholders need values the playground does not ask for.
  return all.map((a) => a.filter).filter((f) => !String(f.filterExpression || "").includes("$"));
}

async function eventType(choice) {
  if (!choice.solutionArn) return EVENT_TYPE;
  const {solution} = await once(choice.solutionArn,
    () => control("DescribeSolution", {solutionArn: choice.solutionArn}));
  return solution.eventType || EVENT_TYPE;
}

async function contextFor(choice) {
  const [type, columns, tracking, filters, event] = await Promise.all([
    recipeType(choice),
    choice.config.enableMetadataWithRecommendations ? metadataColumns(choice.group) : Promise.resolve([]),
    trackingId(choice.group),
    usableFilters(choice.group),
    eventType(choice),
  ]);
  return {choice, type, columns, tracking, filters, event};
}

function chosen() {
  return state.choices.find((c) => c.arn === $("play-campaign").value) || null;
}

function optionLabel(choice, groups) {
  const kind = choice.kind === "recommender" ? "recommender" : arnTail(choice.recipeArn).replace(/^aws-/, "");
  return `${groups > 1 ? `${choice.group.name} / ` : ""}${choice.name} · ${kind}`;
}

/** New snapshot: refresh the campaign list, keeping the selection. */
export async function updateChoices(snapshot) {
  const choices = servables(snapshot);
  await Promise.all(choices.map(async (c) => (c.type = await recipeType(c))));
  const usable = choices.filter((c) => c.type !== "PERSONALIZED_RANKING");
  const select = $("play-campaign");
  const before = select.value;
  // What the playground depends on: the campaigns, and their groups' Items datasets, trackers and filters.
  const signature = JSON.stringify(usable.map((c) => [c.arn, c.config,
    c.group.datasets.map((d) => [d.datasetType, d.status]), c.group.trackers.map((t) => [t.name, t.status]),
    c.group.filters.map((f) => [f.name, f.status])]));
  state.choices = usable;
  if (select.dataset.signature === signature) return;
  select.dataset.signature = signature;
  const preferred = [...usable].sort((a, b) => rank(a) - rank(b));
  fill(select, usable.length ? usable.map((c) => h("option", {value: c.arn}, optionLabel(c, snapshot.groups.length)))
    : h("option", {value: ""}, "No ACTIVE campaign yet"));
  select.disabled = !usable.length;
  $("play-form").querySelector("button[type=submit]").disabled = !usable.length;
  select.value = usable.some((c) => c.arn === before) ? before : (preferred[0] ? preferred[0].arn : "");
  $("play-empty").hidden = usable.length > 0;
  $("play-area").hidden = !usable.length;
  await choose(select.value !== before);
}

function rank(choice) {
  // Prefer what shows the real-time behaviour: a user campaign with metadata, of a personalization recipe.
  return (choice.type === "USER_PERSONALIZATION" ? 0 : 2) + (choice.config.enableMetadataWithRecommendations ? 0 : 1)
    + (/personalization/.test(choice.recipeArn) ? 0 : 1);
}

/** Select a campaign or recommender by ARN (the tree's "Try" buttons). */
export async function select(arn) {
  const select = $("play-campaign");
  if (!state.choices.some((c) => c.arn === arn)) return;
  select.value = arn;
  await choose(true);
  $("play-user").focus();
}

async function choose(changed) {
  const choice = chosen();
  if (!choice) {
    state.context = null;
    return;
  }
  const context = await contextFor(choice);
  const previous = state.context;
  if (!previous || previous.choice.arn !== choice.arn) state.ticket += 1; // drop answers in flight
  if (previous && (previous.type === "RELATED_ITEMS") !== (context.type === "RELATED_ITEMS")) {
    // a user id is no item id: keep what was typed for each kind of input
    state.typed[previous.type === "RELATED_ITEMS" ? "item" : "user"] = $("play-user").value;
    $("play-user").value = state.typed[context.type === "RELATED_ITEMS" ? "item" : "user"] || "";
  }
  state.context = context;
  describeContext();
  const trackerChanged = previous && previous.tracking !== context.tracking;
  const resumed = !previous && !$("play-user").value.trim() && context.type !== "RELATED_ITEMS" && recentUsers()[0];
  if (resumed) $("play-user").value = resumed; // the user tried last time, in this browser
  if ((changed || trackerChanged || resumed) && $("play-user").value.trim()) await recommend();
}

function describeContext() {
  const {type, columns, tracking, filters, choice} = state.context;
  const itemBased = type === "RELATED_ITEMS";
  $("play-user-label").textContent = itemBased ? "Item id" : "User id";
  $("play-user").placeholder = itemBased ? "an item id" : "a user id, known or new";
  const filter = $("play-filter");
  const kept = filter.value;
  fill(filter, h("option", {value: ""}, "No filter"), filters.map((f) => h("option", {value: f.filterArn}, f.name)));
  filter.value = filters.some((f) => f.filterArn === kept) ? kept : "";
  const notes = [];
  notes.push(columns.length
    ? `Item metadata: ${columns.join(", ")} (metadataColumns).`
    : `Item ids only: the ${choice.kind} returns no metadata (enableMetadataWithRecommendations is off).`);
  if (!itemBased) {
    notes.push(tracking
      ? `\u201cWatched\u201d sends a \u201c${state.context.event}\u201d event (PutEvents) to the dataset group\u2019s `
        + "event tracker."
      : "No ACTIVE event tracker in this dataset group: create one to send events.");
  }
  $("play-info").textContent = notes.join(" ");
  renderSuggestions();
}

function showError(err) {
  const box = $("play-error");
  if (!err) {
    box.hidden = true;
    box.textContent = "";
    return;
  }
  box.hidden = false;
  fill(box, h("strong", {}, err.type || "Error"), ": ", err.message || String(err));
}

function requestFor(userOrItem) {
  const {choice, type, columns} = state.context;
  const request = {[choice.kind === "recommender" ? "recommenderArn" : "campaignArn"]: choice.arn,
    numResults: Number($("play-count").value)};
  request[type === "RELATED_ITEMS" ? "itemId" : "userId"] = userOrItem;
  if (columns.length) request.metadataColumns = {ITEMS: columns};
  if ($("play-filter").value) request.filterArn = $("play-filter").value;
  return request;
}

/** Ask for recommendations with the form's values and show them, marking what changed. */
export async function recommend() {
  const who = $("play-user").value.trim();
  if (!state.context || !who) {
    const what = $("play-user-label").textContent.toLowerCase();
    showError(who ? null : {type: "Missing input", message: `Enter ${what === "item id" ? "an" : "a"} ${what}.`});
    return;
  }
  const request = requestFor(who);
  const key = JSON.stringify({...request, numResults: undefined});
  const ticket = ++state.ticket; // only the newest answer is shown when several are in flight
  $("play-results").setAttribute("aria-busy", "true");
  try {
    const answer = await getRecommendations(request);
    if (ticket !== state.ticket) return;
    showError(null);
    const items = answer.itemList || [];
    renderList(items, state.previous.get(key));
    state.previous.set(key, items.map((i) => i.itemId));
    state.shown = {recommendationId: answer.recommendationId, items: items.map((i) => i.itemId)};
    if (state.context.type !== "RELATED_ITEMS") remember(who);
  } catch (err) {
    showError(err);
  } finally {
    $("play-results").removeAttribute("aria-busy");
  }
}

function movement(itemId, index, previous) {
  if (!previous) return null;
  const before = previous.indexOf(itemId);
  if (before < 0) return h("span", {className: "move new", title: "new in the list"}, "new");
  if (before === index) return null;
  const up = before > index;
  return h("span", {className: `move ${up ? "up" : "down"}`, title: `was #${before + 1}`},
    `${up ? "\u25b2" : "\u25bc"}${Math.abs(before - index)}`);
}

function itemBody(item, columns) {
  const meta = item.metadata || {};
  const titleColumn = columns.find((c) => TITLE_COLUMN.test(c));
  const title = titleColumn && meta[titleColumn] ? meta[titleColumn] : item.itemId;
  const chips = columns.filter((c) => c !== titleColumn).flatMap((c) => String(meta[c] || "").split("|"))
    .filter(Boolean);
  return h("div", {className: "rec-body"},
    h("span", {className: "rec-title"}, title),
    title !== item.itemId ? h("span", {className: "rec-id"}, item.itemId) : null,
    chips.length ? h("span", {className: "chips"}, chips.map((c) => h("span", {className: "chip"}, c))) : null);
}

function itemAction(item, title) {
  const {type, tracking} = state.context;
  if (type === "RELATED_ITEMS") {
    return h("button", {type: "button", className: "secondary", "aria-label": `Items like ${title}`,
      onclick: () => {
        $("play-user").value = item.itemId;
        recommend();
      }}, "Like this");
  }
  return h("button", {type: "button", className: "watch", disabled: !tracking,
    title: tracking ? undefined : "No ACTIVE event tracker in this dataset group",
    "aria-label": `Watched ${title}`, onclick: (event) => watched(item, title, event.currentTarget)}, "Watched");
}

function renderList(items, previous) {
  const list = $("play-results");
  const columns = state.context.columns;
  const scored = items.some((i) => typeof i.score === "number");
  const top = Math.max(...items.map((i) => i.score || 0), 1e-12);
  fill(list, items.map((item, index) => {
    const body = itemBody(item, columns);
    const title = body.querySelector(".rec-title").textContent;
    const data = {item: item.itemId, ...(typeof item.score === "number" ? {score: String(item.score)} : {})};
    return h("li", {className: "rec", dataset: data},
      h("span", {className: "rec-rank", "aria-hidden": "true"}, String(index + 1)),
      body,
      movement(item.itemId, index, previous),
      scored ? h("span", {className: "score", title: `score ${item.score}`},
        h("span", {className: "score-bar", style: `width:${Math.round((100 * (item.score || 0)) / top)}%`}),
        h("span", {className: "score-text"}, `${((item.score || 0) * 100).toFixed(1)}%`)) : null,
      itemAction(item, title));
  }));
  $("play-empty-list").hidden = items.length > 0;
  $("play-summary").textContent = summary(items, previous);
}

function summary(items, previous) {
  const count = `${items.length} item${items.length === 1 ? "" : "s"}`;
  if (!previous) return `${count}.`;
  const added = items.filter((i) => !previous.includes(i.itemId)).length;
  const moved = items.filter((i, k) => previous.includes(i.itemId) && previous[k] !== i.itemId).length;
  const gone = previous.filter((id) => !items.some((i) => i.itemId === id)).length;
  if (!added && !moved && !gone) return `${count}, in the same order as the last answer.`;
  const parts = [added && `${added} new`, moved && `${moved} moved`, gone && `${gone} gone`].filter(Boolean);
  return `${count} \u00b7 since the last answer: ${parts.join(", ")}.`;
}

/** The list the event answers: its recommendationId and the items shown (the impression), as the service takes them. */
function shownWith() {
  const shown = state.shown || {};
  return {
    ...(shown.recommendationId ? {recommendationId: shown.recommendationId} : {}),
    ...(shown.items && shown.items.length ? {impression: shown.items.slice(0, MAX_IMPRESSION)} : {}),
  };
}

async function watched(item, title, button) {
  const who = $("play-user").value.trim();
  button.disabled = true;
  try {
    await putEvents({trackingId: state.context.tracking, userId: who, sessionId,
      eventList: [{eventType: state.context.event, itemId: item.itemId, sentAt: Date.now() / 1000, ...shownWith()}]});
    state.history.unshift({who, title, itemId: item.itemId, event: state.context.event, at: new Date()});
    renderHistory();
    await recommend();
    // keep the keyboard where it was: on the same item's button, else on the list's summary
    const again = $("play-results").querySelector(`li.rec[data-item="${CSS.escape(item.itemId)}"] button`);
    (again || $("play-summary")).focus();
  } catch (err) {
    showError(err instanceof ApiError ? err : {type: "Error", message: String(err)});
    button.disabled = false;
  }
}

function renderHistory() {
  const list = $("play-history");
  fill(list, state.history.slice(0, 12).map((e) => h("li", {},
    h("time", {datetime: e.at.toISOString()}, e.at.toLocaleTimeString()), " ",
    h("span", {className: "rec-id"}, e.who), ` ${e.event} `, h("strong", {}, e.title))));
  $("play-history-empty").hidden = state.history.length > 0;
}

function recentUsers() {
  try {
    return JSON.parse(localStorage.getItem(USERS_KEY) || "[]").filter((u) => typeof u === "string");
  } catch (err) {
    return [];
  }
}

function remember(user) {
  const users = [user, ...recentUsers().filter((u) => u !== user)].slice(0, 6);
  try {
    localStorage.setItem(USERS_KEY, JSON.stringify(users));
  } catch (err) {
    // storage may be disabled; suggestions then stay for this page only
  }
  renderSuggestions();
}

function renderSuggestions() {
  const box = $("play-suggestions");
  const itemBased = state.context && state.context.type === "RELATED_ITEMS";
  const ids = itemBased
    ? [...$("play-results").querySelectorAll("li.rec")].slice(0, 5).map((li) => li.dataset.item)
    : recentUsers();
  const pick = (id) => {
    $("play-user").value = id;
    recommend();
  };
  const chips = ids.map((id) => h("button", {type: "button", className: "chip-button", onclick: () => pick(id)}, id));
  if (!itemBased) {
    chips.unshift(h("button", {type: "button", className: "chip-button accent", onclick: () =>
      pick(`visitor-${Math.random().toString(36).slice(2, 6)}`),
    title: "A user the model has never seen: recommendations follow the events you send"}, "+ new visitor"));
  }
  fill(box, chips.length ? [h("span", {className: "hint"}, "Try: "), chips] : []);
  fill($("play-user-options"), ids.map((id) => h("option", {value: id})));
}

/** Wire the form; call once. */
export function initPlayground() {
  $("play-form").addEventListener("submit", (event) => {
    event.preventDefault();
    recommend();
  });
  $("play-campaign").addEventListener("change", () => choose(true).catch(showError));
  $("play-filter").addEventListener("change", () => $("play-user").value.trim() && recommend());
  $("play-count").addEventListener("change", () => $("play-user").value.trim() && recommend());
  renderSuggestions();
  renderHistory();
}
