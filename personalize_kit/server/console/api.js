// The console's only way to the mirror: the same wire APIs any AWS SDK uses, unsigned, on this origin.

export class ApiError extends Error {
  constructor(type, message, status) {
    super(message || type);
    this.type = type;
    this.status = status;
  }
}

async function send(path, headers, body) {
  let response;
  try {
    response = await fetch(path, {method: "POST", headers, body: JSON.stringify(body || {})});
  } catch (err) {
    throw new ApiError("NetworkError", "The server cannot be reached.", 0);
  }
  const text = await response.text();
  let data = {};
  try {
    data = text ? JSON.parse(text) : {};
  } catch (err) {
    data = {message: text};
  }
  if (!response.ok) {
    const type = response.headers.get("x-amzn-ErrorType") || data.__type || `HTTP ${response.status}`;
    throw new ApiError(String(type).split(":")[0].split("#").pop(), data.message || data.Message, response.status);
  }
  return data;
}

/** A control-plane operation (JSON 1.1): control("ListDatasetGroups", {maxResults: 100}). */
export function control(operation, body) {
  return send("/", {
    "X-Amz-Target": `AmazonPersonalize.${operation}`,
    "Content-Type": "application/x-amz-json-1.1",
  }, body);
}

/** Every page of a List operation, as one array under ``key`` ("datasetGroups", "Filters" ...). */
export async function listAll(operation, body, key) {
  const items = [];
  let nextToken;
  do {
    const page = await control(operation, {...body, maxResults: 100, ...(nextToken ? {nextToken} : {})});
    items.push(...(page[key] || []));
    nextToken = page.nextToken;
  } while (nextToken);
  return items;
}

/** GetRecommendations (Personalize Runtime, REST-JSON ``POST /recommendations``). */
export function getRecommendations(request) {
  return send("/recommendations", {"Content-Type": "application/json"}, request);
}

/** PutEvents (Personalize Events, REST-JSON ``POST /events``); ``sentAt`` in epoch seconds. */
export function putEvents(request) {
  return send("/events", {"Content-Type": "application/json"}, request);
}

/** The server's ``GET /_health`` answer, or null. */
export async function health() {
  try {
    const response = await fetch("/_health");
    return response.ok ? await response.json() : null;
  } catch (err) {
    return null;
  }
}
