// Small DOM helpers: elements built with textContent only (no HTML strings from the server), SVG, time.

const SVG_NS = "http://www.w3.org/2000/svg";

function build(element, attrs, children) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      element.addEventListener(key.slice(2), value);
    } else if (key === "dataset") {
      Object.assign(element.dataset, value);
    } else {
      element.setAttribute(key === "className" ? "class" : key, value === true ? "" : String(value));
    }
  }
  for (const child of [children].flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** An HTML element: h("li", {className: "x"}, "text", otherNode). */
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** An SVG element. */
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

/** Replace the children of a node. */
export function fill(node, ...children) {
  node.replaceChildren();
  return build(node, {}, children);
}

/** The last segment of an ARN ("…/solution/films-up/3f2a1b" -> "3f2a1b"). */
export function arnTail(arn) {
  return String(arn || "").split("/").pop();
}

/** Epoch seconds (the APIs' timestamps) -> "12 s ago", "5 min ago", "3 h ago", or a date. */
export function ago(epochSeconds, now = Date.now() / 1000) {
  if (typeof epochSeconds !== "number") return "";
  const seconds = Math.max(0, Math.round(now - epochSeconds));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return new Date(epochSeconds * 1000).toLocaleDateString();
}

/** Epoch seconds as an ISO date-time for tooltips and <time datetime>. */
export function iso(epochSeconds) {
  return typeof epochSeconds === "number" ? new Date(epochSeconds * 1000).toISOString() : "";
}

/** The CSS class of a resource status: ok, busy, failed or idle. */
export function statusTone(status) {
  if (!status) return "idle";
  if (status === "ACTIVE") return "ok";
  if (status.includes("FAILED")) return "failed";
  if (status.includes("PENDING") || status.includes("IN_PROGRESS") || status.includes("IN PROGRESS")) return "busy";
  if (status.includes("STOPP")) return "idle";
  return "idle";
}

/** A <time> showing how long ago ``epochSeconds`` was; refreshed by ``refreshTimes``. */
export function timeAgo(epochSeconds, className = "meta") {
  if (typeof epochSeconds !== "number") return null;
  return h("time", {className, datetime: iso(epochSeconds), title: iso(epochSeconds),
    dataset: {epoch: String(epochSeconds)}}, ago(epochSeconds));
}

/** Bring every "… ago" under ``root`` up to date. */
export function refreshTimes(root = document) {
  const now = Date.now() / 1000;
  for (const node of root.querySelectorAll("time[data-epoch]")) node.textContent = ago(Number(node.dataset.epoch), now);
}

/** A status badge: text and colour (never colour alone). */
export function badge(status, failureReason) {
  return h("span", {className: `badge ${statusTone(status)}`, title: failureReason || undefined}, status || "unknown");
}
