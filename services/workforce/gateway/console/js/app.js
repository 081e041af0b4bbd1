// The console's shell: API-key sign-in (kept in sessionStorage), hash routing, one page mounted at a time.

import {api, apiKey, setApiKey, ApiError} from "./api.js";
import {h, errorText} from "./util.js";
import * as tasksPage from "./pages/tasks.js";
import * as taskPage from "./pages/task.js";
import * as workersPage from "./pages/workers.js";
import * as submitPage from "./pages/submit.js";

const main = document.getElementById("main");
let unmount = null;
let me = null;

function route() {
  const parts = (location.hash.replace(/^#\/?/, "") || "tasks").split("/").map(decodeURIComponent);
  if (parts[0] === "tasks" && parts[1]) return {page: taskPage, nav: "tasks", params: {taskId: parts[1]}};
  if (parts[0] === "workers") return {page: workersPage, nav: "workers", params: {}};
  if (parts[0] === "submit") return {page: submitPage, nav: "submit", params: {}};
  if (parts[0] === "tasks" || parts[0].startsWith("tasks?")) return {page: tasksPage, nav: "tasks", params: {}};
  return {page: notFoundPage, nav: "", params: {path: parts.join("/")}};
}

const notFoundPage = {
  mount(into, {path}) {
    into.append(h("div", {class: "page-head"}, h("h1", {tabindex: "-1", text: "Page not found"})),
      h("p", {id: "not-found", text: `There is no page “${path}” in this console.`}),
      h("p", {}, h("a", {href: "#/tasks", text: "All tasks"})));
  },
};

function clear() {
  if (unmount) {
    try { unmount(); } catch (e) { console.error(e); }
  }
  unmount = null;
}

async function whoami(key) {
  return api("/v1/me", key === undefined ? {} : {key});
}

function showSignIn(message) {
  clear();
  document.getElementById("identity").textContent = "";
  document.getElementById("forget-key").hidden = true;
  const error = h("p", {class: "error", role: "alert", id: "key-error", text: message || ""});
  const input = h("input", {id: "api-key", type: "password", autocomplete: "off", required: true,
                            "aria-describedby": "key-help key-error"});
  const form = h("form", {class: "card narrow", "aria-labelledby": "signin-title"},
    h("h1", {id: "signin-title", tabindex: "-1", text: "Sign in"}),
    h("p", {id: "key-help", class: "muted",
            text: "Paste an API key of this gateway (WF_API_KEYS; with `make run` it is in .local/api-key). " +
                  "It stays in this browser tab only (sessionStorage) and is sent as a bearer token."}),
    h("label", {for: "api-key", text: "API key"}), input,
    h("div", {class: "actions"}, h("button", {type: "submit", class: "primary", text: "Use this key"})),
    error);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.textContent = "";
    try {
      me = await whoami(input.value.trim());
      setApiKey(input.value.trim());
      start();
    } catch (err) {
      error.textContent = err instanceof ApiError && err.status === 401 ? "That key was not accepted." : errorText(err);
      input.focus();
    }
  });
  main.replaceChildren(form);
  input.focus();
}

function render() {
  clear();
  const {page, nav, params} = route();
  for (const a of document.querySelectorAll("[data-nav]")) {
    if (a.dataset.nav === nav) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  main.replaceChildren();
  unmount = page.mount(main, params, {me}) || null;
  const title = main.querySelector("h1");
  if (title && document.activeElement === document.body) title.focus({preventScroll: true});
}

async function start() {
  if (document.documentElement.dataset.auth === "on" && !apiKey()) {
    showSignIn("");   // the gateway wants a key and this tab has none: ask, rather than be refused
    return;
  }
  try {
    me = await whoami();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      showSignIn(apiKey() ? "The stored key is no longer accepted." : "");
      return;
    }
    main.replaceChildren(h("p", {class: "error", role: "alert", text: `The gateway is not reachable: ${errorText(err)}`}));
    setTimeout(start, 2000);
    return;
  }
  document.getElementById("identity").textContent = me.auth ? `key: ${me.name}` : "auth off";
  document.getElementById("forget-key").hidden = !apiKey();
  render();
}

window.addEventListener("hashchange", () => { if (me) render(); });
window.addEventListener("wf-unauthenticated", (ev) => { me = null; showSignIn(ev.detail); });
document.getElementById("forget-key").addEventListener("click", () => {
  setApiKey("");
  me = null;
  showSignIn("Key forgotten.");
});
start();
