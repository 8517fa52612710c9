// The console's entry point: the header, the poll that keeps the tree, the chart and the playground live.

import {health} from "./api.js";
import {renderMetrics} from "./chart.js";
import {fill, h, refreshTimes} from "./dom.js";
import {initPlayground, select, updateChoices} from "./playground.js";
import {loadSnapshot} from "./resources.js";
import {renderTree} from "./tree.js";

const POLL_MS = 3000;
const $ = (id) => document.getElementById(id);
let lastTree = "";

function setLive(ok, text) {
  const live = $("live");
  live.className = `live ${ok ? "ok" : "down"}`;
  $("live-text").textContent = text;
}

async function poll() {
  try {
    const snapshot = await loadSnapshot();
    const signature = JSON.stringify(snapshot);
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
  }
}

async function loop() {
  if (!document.hidden) await poll();
  setTimeout(loop, POLL_MS);
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
