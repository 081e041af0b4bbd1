// The gateway's HTTP API with the API key kept in this tab's sessionStorage (sent as a bearer token).

const KEY = "wf-api-key";

export function apiKey() {
  return sessionStorage.getItem(KEY) || "";
}

export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY, key);
  else sessionStorage.removeItem(KEY);
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function authHeaders(extra = {}) {
  const key = apiKey();
  return key ? {...extra, Authorization: `Bearer ${key}`} : {...extra};
}

export async function api(path, {method = "GET", json, form, signal, key} = {}) {
  const headers = key !== undefined ? (key ? {Authorization: `Bearer ${key}`} : {}) : authHeaders();
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form) {
    body = form;
  }
  const response = await fetch(path, {method, headers, body, signal, cache: "no-store"});
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const e = (data && data.error) || {};
    if (response.status === 401 && key === undefined) {
      window.dispatchEvent(new CustomEvent("wf-unauthenticated", {detail: e.message || "unauthenticated"}));
    }
    throw new ApiError(response.status, e.code || "http_error", e.message || response.statusText);
  }
  return data;
}

// A file the API sends (with the key, which a plain link cannot carry), saved under `name`.
export async function download(path, name) {
  const response = await fetch(path, {headers: authHeaders(), cache: "no-store"});
  if (!response.ok) {
    let e = {};
    try {
      e = (await response.json()).error || {};
    } catch {
      e = {};
    }
    throw new ApiError(response.status, e.code || "http_error", e.message || response.statusText);
  }
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}
