// The console's entry point: the header, the poll that keeps the tree, the chart and the playground live.

import {health} from "./api.js";
import {renderMetrics} from "./chart.js";
import {fill, h, refreshTimes} from "./dom.js";
import {initPlayground, select, updateChoices} from "./playground.js";
import {loadSnapshot} from "./resources.js";
import {renderTree} from "./tree.js";

const POLL_BUSY_MS = 2000; // while anything is being created, trained or deleted
const POLL_IDLE_MS = 5000;
const BUSY = /PENDING|IN_PROGRESS|IN PROGRESS|STOPPING/;
const $ = (id) => document.getElementById(id);
let lastTree = "";
let busy = true;
let polling = false;

function setLive(ok, text) {
  const live = $("live");
  const state = `live ${ok ? "ok" : "down"}`;
  if (live.className !== state) {
    // announced to screen readers only when the connection comes or goes, not at every poll
    $("live-announce").textContent = ok ? "Connected: resources are live." : `Connection problem: ${text}`;
  }
  live.className = state;
  $("live-text").textContent = text;
}

async function poll() {
  if (polling) return; // the timer and a tab coming back into view may both ask
  polling = true;
  try {
    const snapshot = await loadSnapshot();
    const signature = JSON.stringify(snapshot);
    busy = BUSY.test(signature);
    if (signature !== lastTree) {
      lastTree = signature;
      renderTree($("tree"), snapshot, (arn) => select(arn));
      $("tree").setAttribute("aria-busy", "false");
    } else {
      refreshTimes($("tree"));
    }
    await Promise.all([renderMetrics($("metrics"), snapshot), updateChoices(snapshot)]);
    const count = snapshot.groups.length;
    setLive(true, `${count} dataset group${count === 1 ? "" : "s"} · updated ${new Date().toLocaleTimeString()}`);
  } catch (err) {
    setLive(false, `${err.type || "Error"}: ${err.message || err} · retrying`);
    if (!lastTree) {
      fill($("tree"), h("p", {className: "error"}, explain(err)));
      fill($("metrics"), h("p", {className: "hint"}, "Nothing to show until the resources can be read."));
    }
  } finally {
    polling = false;
  }
}

/** What a person can do about an error that keeps the console from reading anything. */
function explain(err) {
  const code = (text) => h("code", {className: "nowrap"}, text);
  if (err.type === "MissingAuthenticationTokenException") {
    return ["This server verifies SigV4 signatures (", code("serve --credentials"), ") and a browser cannot sign "
      + "its requests: start ", code("serve"), " without ", code("--credentials"), " to use the console."];
  }
  if (err.type === "NetworkError") {
    return ["The server cannot be reached: is ", code("python -m personalize_kit serve"), " running?"];
  }
  return [`The resources cannot be read: ${err.type}: ${err.message}`];
}

async function loop() {
  if (!document.hidden) await poll();
  setTimeout(loop, busy ? POLL_BUSY_MS : POLL_IDLE_MS);
}

async function showEndpoint() {
  const info = await health();
  if (!info) return;
  fill($("endpoint"), h("span", {}, `v${info.version}`), " · ",
    h("span", {title: "state directory"}, h("code", {}, info.stateDir || "")), " · ",
    h("span", {title: "endpoint URL for any AWS SDK or the AWS CLI"}, h("code", {}, window.location.origin)));
}

document.addEventListener("visibilitychange", () => {
  if (!document.hidden) poll();
});
initPlayground();
showEndpoint();
loop();
