// Submit a task: question, answer format, files, deadline, plan review; a token budget when the API has one.

import {api} from "../api.js";
import {h, errorText} from "../util.js";

function field(id, label, control, help) {
  if (help) control.setAttribute("aria-describedby", `${id}-help`);
  return h("div", {class: "field"}, h("label", {for: id, text: label}), control,
    help ? h("p", {id: `${id}-help`, class: "muted small", text: help}) : null);
}

async function budgetField() {
  // The submit schema decides: if the gateway accepts a token budget, offer it.
  try {
    const spec = await api("/openapi.json");
    const props = spec.components.schemas.SubmitBody.properties;
    return Object.keys(props).find((k) => /budget/i.test(k)) || null;
  } catch {
    return null;
  }
}

export function mount(main) {
  const question = h("textarea", {id: "question", rows: 5, required: true});
  const format = h("input", {id: "answer-format", type: "text", placeholder: "e.g. a single number"});
  const files = h("input", {id: "files", type: "file", multiple: true});
  const timeout = h("input", {id: "timeout", type: "number", min: 0, step: 1, value: 0});
  const review = h("input", {id: "review-plan", type: "checkbox"});
  const reviewReplans = h("input", {id: "review-replans", type: "checkbox"});
  const error = h("p", {class: "error", role: "alert", id: "submit-error"});
  const budgetSlot = h("div", {});
  const button = h("button", {type: "submit", class: "primary", text: "Submit"});
  const form = h("form", {class: "card", id: "submit-form", "aria-labelledby": "submit-title"},
    h("h1", {id: "submit-title", tabindex: "-1", text: "New task"}),
    field("question", "Question", question, "The task, in natural language."),
    field("answer-format", "Answer format", format, "How the final answer must look (optional)."),
    field("files", "Files", files, "Documents, tables, images… the workers may read (optional)."),
    field("timeout", "Deadline (seconds)", timeout, "0 = the server's default."),
    budgetSlot,
    h("fieldset", {},
      h("legend", {text: "Plan review"}),
      h("div", {class: "check"}, review, h("label", {for: "review-plan",
        text: "Let me approve, edit or reject the plan before it runs"})),
      h("div", {class: "check"}, reviewReplans, h("label", {for: "review-replans",
        text: "Also review every replan after a failure"}))),
    h("div", {class: "actions"}, button), error);
  main.append(form);

  let budgetName = null;
  let budget = null;
  budgetField().then((name) => {
    if (!name) return;
    budgetName = name;
    budget = h("input", {id: "budget", type: "number", min: 0, step: 1});
    budgetSlot.replaceChildren(field("budget", "Token budget", budget,
      "0 or empty = the server's default (WF_TASK_TOKEN_BUDGET; none unless set)."));
  });

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.textContent = "";
    button.disabled = true;
    const body = {question: question.value, answer_format: format.value, timeout_s: Number(timeout.value || 0),
                  review_plan: review.checked, review_replans: reviewReplans.checked};
    if (budgetName && budget && budget.value) body[budgetName] = Number(budget.value);
    try {
      let result;
      if (files.files.length) {
        const data = new FormData();
        for (const [k, v] of Object.entries(body)) data.append(k, String(v));
        for (const f of files.files) data.append("files", f, f.name);
        result = await api("/v1/tasks/upload", {method: "POST", form: data});
      } else {
        result = await api("/v1/tasks", {method: "POST", json: body});
      }
      location.hash = `#/tasks/${result.task_id}`;
    } catch (err) {
      error.textContent = errorText(err);
      button.disabled = false;
      question.focus();
    }
  });
  return () => {};
}
