// A task's event stream over fetch (so the API key goes in the Authorization header, which EventSource cannot
// send). After a dropped connection it reconnects and resumes right after the last sequence it delivered, so
// the caller sees every event exactly once, in order.

const TERMINAL = new Set(["task.succeeded", "task.failed", "task.cancelled"]);

function parseFrame(frame) {
  const data = [];
  for (const line of frame.split("\n")) {
    if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
  }
  return data.length ? JSON.parse(data.join("\n")) : null;
}

export class EventStream {
  // onEvent(event), onState("connecting" | "live" | "reconnecting" | "ended", detail)
  constructor(taskId, {authHeaders, onEvent, onState, fromSeq = 0}) {
    this.taskId = taskId;
    this.authHeaders = authHeaders;
    this.onEvent = onEvent;
    this.onState = onState || (() => {});
    this.lastSeq = fromSeq > 0 ? fromSeq - 1 : 0;
    this.controller = new AbortController();
    this.ended = false;
    this.reconnects = 0;
  }

  stop() {
    this.ended = true;
    this.controller.abort();
  }

  async run() {
    let delay = 500;
    while (!this.ended) {
      try {
        this.onState(this.reconnects ? "reconnecting" : "connecting");
        await this.once();
        if (this.ended) break;
      } catch (err) {
        if (this.ended) break;
        this.onState("reconnecting", err && err.message);
      }
      this.reconnects += 1;
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 4000);
    }
  }

  async once() {
    const url = `/v1/tasks/${encodeURIComponent(this.taskId)}/events?from_seq=${this.lastSeq + 1}`;
    const response = await fetch(url, {headers: this.authHeaders({Accept: "text/event-stream"}),
                                       signal: this.controller.signal, cache: "no-store"});
    if (response.status === 401 || response.status === 404) {
      this.ended = true;
      this.onState("ended", response.status === 404 ? "no such task" : "unauthenticated");
      return;
    }
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    this.onState("live");
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const {value, done} = await reader.read();
      if (done) throw new Error("the stream closed");
      buffer += decoder.decode(value, {stream: true}).replace(/\r\n?/g, "\n");
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const frame = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const event = parseFrame(frame);
        if (!event) continue;  // a keep-alive comment
        const seq = Number(event.seq || 0);
        if (seq && seq <= this.lastSeq) continue;
        if (seq) this.lastSeq = seq;
        this.onEvent(event);
        if (TERMINAL.has(event.type)) {
          this.ended = true;
          this.onState("ended", event.type);
          this.controller.abort();
          return;
        }
      }
    }
  }
}
