// The event timeline: one list item per event, newest last; an event's data is shown on demand. Events are numbered
// 1..N in the order this page received them; the stream sequence (global across tasks, what resuming uses) is kept
// in each item's data-seq and its number's tooltip.

import {h, clock, short} from "./util.js";

const KIND = (type) => type.split(".")[0];

export class Timeline {
  constructor() {
    this.list = h("ol", {class: "timeline", id: "timeline", "aria-label": "Events"});
    this.count = 0;
  }

  add(e) {
    const stick = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 40;
    const data = e.data && Object.keys(e.data).length ? e.data : null;
    const details = data ? h("details", {},
      h("summary", {text: "data"}), h("pre", {class: "json"})) : null;
    if (details) {
      details.addEventListener("toggle", () => {
        const pre = details.querySelector("pre");
        if (details.open && !pre.textContent) pre.textContent = short(JSON.stringify(data, null, 2), 20000);
      }, {once: false});
    }
    const n = this.count + 1;
    this.list.append(h("li", {class: `ev ev-${KIND(e.type)}`, dataset: {seq: String(e.seq || ""), n: String(n),
                                                                       type: e.type}},
      h("span", {class: "ev-seq mono", text: `#${n}`, title: e.seq ? `stream sequence ${e.seq}` : null}),
      h("time", {datetime: e.time || "", text: clock(e.time)}),
      h("span", {class: "ev-type mono", text: e.type}),
      e.subtask_id ? h("span", {class: "ev-sub mono", text: `[${e.subtask_id}]`}) : null,
      h("span", {class: "ev-msg", text: short(e.message, 240)}),
      details));
    this.count += 1;
    if (stick) this.list.scrollTop = this.list.scrollHeight;
  }
}
