"""The web console in a real Chromium (Playwright) against every service as a separate process.

Screenshots of the main pages are kept in $WF_TEST_ARTIFACTS/console (or a pytest tmp dir; the path is printed).
"""

import os
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.support.system import API_KEY, System

pytestmark = pytest.mark.e2e

OTHER_KEY = "second-identity-key"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
THREE = "Collect the facts. SUBTASKS:\n- find alpha @echo\n- find beta @echo\n- combine alpha and beta after:1 after:2"
FOCUSABLE = "a[href], button, input, select, textarea, [tabindex]:not([tabindex='-1'])"


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    s = System(tmp_path_factory.mktemp("console"), workers={"echo": 2},
               env={"WF_API_KEYS": f"test:{API_KEY},other:{OTHER_KEY}", "WF_APPROVE_TOOLS": "echo.add"})
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make setup` installs it (scripts/setup.d/20-web.sh)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    root = os.environ.get("WF_TEST_ARTIFACTS")
    path = Path(root) / "console" if root else tmp_path_factory.mktemp("console-screenshots")
    path.mkdir(parents=True, exist_ok=True)
    print(f"\nconsole screenshots: {path}")
    return path


def sign_in(browser, system, key=API_KEY, width=1400):
    context = browser.new_context(viewport={"width": width, "height": 1000})
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.goto(f"http://127.0.0.1:{system.http_port}/")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Use this key").click()
    expect(page.locator("#identity")).to_have_text(re.compile("key: "))
    return page


@pytest.fixture
def page(browser, system):
    page = sign_in(browser, system)
    yield page
    errors = page.errors
    page.context.close()
    assert not errors, errors


def open_task(page, system, task_id):
    page.goto(f"http://127.0.0.1:{system.http_port}/#/tasks/{task_id}")
    expect(page.locator("#stream-state")).not_to_have_text("connecting")


def node(page, sid):
    return page.locator(f'#plan-graph [data-subtask="{sid}"]')


def wait_status(system, task_id, status, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if system.get(task_id)["status"] == f"TASK_STATUS_{status}":
            return
        time.sleep(0.1)
    raise AssertionError(f"{task_id} is {system.get(task_id)['status']}\n{system.logs()}")


def test_submit_from_the_page_watch_the_graph_fill_in_and_the_answer_appear(page, system, shots):
    system.llm.script([], default_delay_ms=400)
    page.get_by_role("link", name="Submit").click()
    page.get_by_label("Question").fill(THREE)
    page.get_by_label("Answer format").fill("one line")
    page.get_by_role("button", name="Submit").click()
    page.wait_for_url(re.compile(r"#/tasks/t[0-9a-z]{26}$"))
    task_id = page.url.rsplit("/", 1)[-1]
    seen: dict[str, set] = {}
    deadline = time.time() + 60
    while time.time() < deadline and not page.locator("#answer").count():
        for sid, status in page.eval_on_selector_all(
                "#plan-graph [data-subtask]", "els => els.map(e => [e.dataset.subtask, e.dataset.status])"):
            seen.setdefault(sid, set()).add(status)
        time.sleep(0.05)
    expect(page.locator("#answer")).to_contain_text("done: find alpha")
    assert set(seen) == {"1", "2", "3"}
    assert any("dispatched" in s for s in seen.values()), seen  # it filled in live, not only at the end
    for sid in "123":
        expect(node(page, sid)).to_have_attribute("data-status", "done")
    expect(node(page, "3")).to_contain_text("echo")
    assert page.locator("#plan-graph path.edge").count() == 2
    expect(page.locator("#task-status")).to_have_attribute("data-status", "SUCCEEDED")
    for role in ("planner", "coordinator", "worker:echo"):
        expect(page.locator("#usage-table")).to_contain_text(role)
    expect(page.locator("#timeline li").last).to_have_attribute("data-type", "task.succeeded")

    node(page, "1").click()
    expect(page.locator("#subtask-result")).to_have_text(re.compile("done: find alpha"))
    page.get_by_role("button", name="Show trajectory").click()
    expect(page.locator("#trajectory")).to_contain_text("plan.assigned")   # the event that dispatched it
    expect(page.locator("#trajectory")).to_contain_text("subtask.succeeded")
    page.screenshot(path=str(shots / "task.png"), full_page=True)

    page.get_by_role("link", name="Tasks", exact=True).click()
    row = page.locator(f'#task-table tr[data-task="{task_id}"]')
    expect(row).to_contain_text("succeeded")
    expect(row).to_contain_text("3/3")
    expect(row.locator("td.outcome")).to_contain_text("done: find alpha")   # the answer, without opening it
    page.screenshot(path=str(shots / "tasks.png"), full_page=True)
    page.get_by_label("Status").select_option("FAILED")
    expect(row).to_have_count(0)
    page.get_by_label("Status").select_option("")
    expect(row).to_have_count(1)


def test_review_and_edit_a_plan_then_approve_and_see_the_edited_subtasks_run(page, system, shots):
    page.get_by_role("link", name="Submit").click()
    page.get_by_label("Question").fill(THREE)
    page.get_by_label("Let me approve, edit or reject the plan before it runs").check()
    page.get_by_role("button", name="Submit").click()
    review = page.locator("#review-0")
    expect(review).to_be_visible(timeout=30_000)
    expect(page.locator("#task-status")).to_have_attribute("data-status", "AWAITING_APPROVAL")
    expect(node(page, "1")).to_have_attribute("data-status", "proposed")
    page.screenshot(path=str(shots / "review.png"), full_page=True)
    task_id = page.url.rsplit("/", 1)[-1]

    page.get_by_label("Text of subtask 1").fill("find gamma instead @echo")
    page.get_by_role("button", name="Drop subtask 2").click()
    page.get_by_role("button", name="Add subtask").click()
    page.get_by_label("Text of subtask new1").fill("find delta @echo")
    page.get_by_label("Dependencies of subtask 3 (comma-separated ids)").fill("1, 9")
    page.get_by_role("button", name="Approve edited plan").click()
    expect(page.locator("#review-error-0")).to_contain_text("depends on unknown subtask 9")
    assert system.get(task_id)["status"] == "TASK_STATUS_AWAITING_APPROVAL"
    page.get_by_label("Dependencies of subtask 3 (comma-separated ids)").fill("1, new1")
    page.get_by_label("Comment (optional)").fill("narrower")
    page.get_by_role("button", name="Approve edited plan").click()

    expect(page.locator("#answer")).to_contain_text("done: find gamma instead", timeout=60_000)
    expect(page.locator("#answer")).to_contain_text("done: find delta")
    expect(page.locator("#answer")).not_to_contain_text("find beta")
    expect(node(page, "2")).to_have_count(0)
    for sid in ("1", "3", "new1"):
        expect(node(page, sid)).to_have_attribute("data-status", "done")
    expect(page.locator('#timeline li[data-type="approval.edited"]')).to_have_count(1)
    worked = [r["messages"][-1]["content"].rsplit("Your subtask:", 1)[-1] for r in system.llm.requests()
              if r["role"] == "worker:echo" and r["task"] == task_id]
    assert sorted(w.strip() for w in worked) == ["combine alpha and beta after:1 after:2",
                                                 "find delta @echo", "find gamma instead @echo"]
    edited = next(e for e in system.events(task_id) if e["type"] == "approval.edited")
    assert edited["data"]["decided_by"] == "test" and edited["data"]["comment"] == "narrower"
    assert edited["data"]["changes"]["added"] == ["new1"] and edited["data"]["changes"]["dropped"] == ["2"]


def test_reject_a_plan_from_the_page(page, system):
    task_id = system.submit(THREE, review_plan=True)["task_id"]
    open_task(page, system, task_id)
    expect(page.locator("#review-0")).to_be_visible(timeout=30_000)
    # while the plan waits nothing is redrawn, and the task's age still goes on
    said = page.locator("#task-meta").inner_text()
    expect(page.locator("#task-meta")).not_to_have_text(said, timeout=5_000)
    assert re.match(r"\d+ s old · ", page.locator("#task-meta").inner_text())
    page.get_by_role("button", name="Reject").click()
    expect(page.locator("#review-error-0")).to_contain_text("Say why")
    page.get_by_label("Reason to reject").fill("not needed any more")
    page.get_by_role("button", name="Reject").click()
    expect(page.locator("#failure")).to_contain_text("plan rejected by test: not needed any more")
    expect(page.locator("#task-status")).to_have_attribute("data-status", "FAILED")
    expect(node(page, "1")).to_have_attribute("data-status", "rejected")
    expect(page.locator("#review-0")).to_have_count(0)
    expect(page.locator("#cancel-task")).to_be_hidden()


def test_cancel_a_running_task_from_the_page(page, system):
    system.llm.script([], default_delay_ms=1500)
    task_id = system.submit("Slow. SUBTASKS:\n- one @echo\n- two after:1\n- three after:2")["task_id"]
    open_task(page, system, task_id)
    expect(node(page, "1")).to_have_attribute("data-status", "dispatched", timeout=30_000)
    page.get_by_role("button", name="Cancel task…").click()
    page.get_by_label("Reason").fill("changed my mind")
    page.get_by_role("button", name="Confirm cancel").click()
    expect(page.locator("#failure")).to_contain_text("changed my mind")
    expect(page.locator("#task-status")).to_have_attribute("data-status", "CANCELLED")
    expect(node(page, "3")).to_have_attribute("data-status", "cancelled")
    assert system.get(task_id)["status"] == "TASK_STATUS_CANCELLED"


def test_a_reconnect_mid_task_resumes_from_the_last_sequence_without_a_gap(page, system, shots):
    system.llm.script([], default_delay_ms=500)
    task_id = system.submit("Long. SUBTASKS:\n- s1 @echo\n- s2 after:1\n- s3 after:2\n- s4 after:3\n- s5 after:4")[
        "task_id"]
    open_task(page, system, task_id)
    expect(page.locator('#timeline li[data-type="subtask.succeeded"]').first).to_be_attached(timeout=30_000)
    gateway = system.services["gateway"][-1]
    gateway.killed = True
    gateway.kill()
    expect(page.locator("#stream-state")).to_have_attribute("data-state", "reconnecting", timeout=15_000)
    before = page.locator("#timeline li").count()
    time.sleep(2)  # the task goes on while the gateway is down
    system.start_service("gateway")
    expect(page.locator("#answer")).to_contain_text("done: s5", timeout=60_000)
    shown = [int(s) for s in page.eval_on_selector_all("#timeline li", "els => els.map(e => e.dataset.seq)")]
    stored = [int(e["seq"]) for e in system.events(task_id)]  # every stored event up to the terminal one
    assert shown == stored, (shown, stored)
    assert len(shown) > before
    numbers = page.eval_on_selector_all("#timeline .ev-seq", "els => els.map(e => e.textContent)")
    assert numbers == [f"#{i}" for i in range(1, len(stored) + 1)], numbers   # no gap or repeat across the reconnect
    expect(page.locator("#stream-state")).to_have_attribute("data-state", "ended")


def test_events_are_numbered_within_the_task_and_keep_their_stream_sequence(page, system):
    """The timeline numbers a task's events 1..N; the stream sequence (global across tasks) is in data-seq and the
    number's tooltip, not shown as the number."""
    system.wait(system.submit("Say hi @echo")["task_id"])   # so this task's stream sequences do not start at 1
    task_id = system.submit(THREE)["task_id"]
    system.wait(task_id)
    open_task(page, system, task_id)
    expect(page.locator("#timeline li").last).to_have_attribute("data-type", "task.succeeded", timeout=30_000)
    stored = [int(e["seq"]) for e in system.events(task_id)]
    assert stored[0] > 1, stored
    items = page.eval_on_selector_all("#timeline li", """els => els.map(e => {
        const number = e.querySelector('.ev-seq');
        return [number.textContent, Number(e.dataset.seq), number.title];
    })""")
    assert [text for text, _, _ in items] == [f"#{i}" for i in range(1, len(stored) + 1)], items
    assert [seq for _, seq, _ in items] == stored, (items, stored)
    assert all(title == f"stream sequence {seq}" for _, seq, title in items), items
    expect(page.locator("#event-count")).to_have_text(f"({len(stored)})")


def test_a_second_identity_sees_none_of_the_first_ones_tasks(browser, system):
    system.wait(system.submit("Say hi @echo")["task_id"])
    mine = {t["task_id"] for t in system.http.get("/v1/tasks", params={"limit": 500}).json()["tasks"]
            if t.get("owner") == "test"}
    other_api = system.http.get("/v1/tasks", params={"limit": 500},
                                headers={"Authorization": f"Bearer {OTHER_KEY}"}).json()["tasks"]
    assert mine and not any(t.get("owner") == "test" for t in other_api), other_api
    page = sign_in(browser, system, OTHER_KEY)
    try:
        expect(page.locator("#identity")).to_have_text("key: other")
        expect(page.locator("#tasks-updated")).not_to_be_empty()
        shown = set(page.eval_on_selector_all("#task-table tr[data-task]", "els => els.map(e => e.dataset.task)"))
        assert not shown & mine
        page.goto(f"http://127.0.0.1:{system.http_port}/#/tasks/{sorted(mine)[0]}")
        expect(page.get_by_role("heading", name="Task not found")).to_be_visible()   # as if there were none
        expect(page.locator("#plan-graph [data-subtask]")).to_have_count(0)
        expect(page.locator("#answer")).to_have_count(0)
    finally:
        page.context.close()


def _names_and_tab_order(page) -> tuple[list[str], set[int], set[int]]:
    """Controls without an accessible name, and the indices of the visible controls vs those Tab reached."""
    unnamed = page.evaluate("""(sel) => {
        const out = [];
        document.querySelectorAll(sel).forEach((el, i) => {
          el.dataset.probe = String(i);
          if (!el.getClientRects().length || el.disabled) return;
          const byId = (ids) => ids.split(/\\s+/).map(id => document.getElementById(id)?.textContent || "").join(" ");
          const name = (el.getAttribute("aria-label") || "") ||
            (el.getAttribute("aria-labelledby") ? byId(el.getAttribute("aria-labelledby")) : "") ||
            [...(el.labels || [])].map(l => l.textContent).join(" ") || (el.textContent || "") ||
            el.getAttribute("title") || "";
          if (!name.trim()) out.push(el.outerHTML.slice(0, 120));
        });
        return out;
    }""", FOCUSABLE)
    visible = set(page.evaluate("""(sel) => [...document.querySelectorAll(sel)]
        .filter(el => el.getClientRects().length && !el.disabled && getComputedStyle(el).visibility !== 'hidden')
        .map(el => Number(el.dataset.probe))""", FOCUSABLE))
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.locator("body").focus()
    reached = set()
    for _ in range(len(visible) + 15):
        page.keyboard.press("Tab")
        probe = page.evaluate("document.activeElement && document.activeElement.dataset.probe")
        if probe is not None:
            reached.add(int(probe))
    return unnamed, visible, reached


def test_every_control_is_labelled_and_reachable_by_keyboard(page, system, shots):
    task_id = system.submit(THREE, review_plan=True)["task_id"]
    wait_status(system, task_id, "AWAITING_APPROVAL")
    base = f"http://127.0.0.1:{system.http_port}/"
    pages = {"tasks": "#/tasks", "submit": "#/submit", "workers": "#/workers", "review": f"#/tasks/{task_id}"}
    for name, route in pages.items():
        page.goto(base + route)
        if name == "review":
            expect(page.locator("#review-0")).to_be_visible()
            expect(node(page, "3")).to_be_visible()
        elif name == "workers":
            expect(page.locator("#pools")).to_be_visible()
            page.screenshot(path=str(shots / "workers.png"), full_page=True)
        elif name == "submit":
            expect(page.locator("#submit-form")).to_be_visible()
            page.screenshot(path=str(shots / "submit.png"), full_page=True)
        else:
            expect(page.locator("#tasks-updated")).not_to_be_empty()
        page.wait_for_timeout(300)
        unnamed, visible, reached = _names_and_tab_order(page)
        assert not unnamed, (name, unnamed)
        assert visible and visible <= reached, (name, sorted(visible - reached))

    # A subtask of the graph is chosen with the keyboard alone.
    page.goto(base + f"#/tasks/{task_id}")
    expect(node(page, "2")).to_be_visible()
    node(page, "2").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#subtask-detail")).to_contain_text("find beta")
    system.http.post(f"/v1/tasks/{task_id}/cancel", json={})


def test_api_docs_are_served_without_a_cdn(page, system):
    requested = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto(f"http://127.0.0.1:{system.http_port}/docs")
    expect(page.locator(".swagger-ui .title")).to_contain_text("Workforce gateway", timeout=15_000)
    expect(page.get_by_text("/v1/tasks/{task_id}/plan/approve")).to_be_visible()
    assert requested and all(u.startswith(f"http://127.0.0.1:{system.http_port}/") for u in requested), requested


def test_a_replan_shows_the_replaced_subtask_and_its_replacement(page, system, shots):
    system.llm.script([
        {"role": "worker:", "contains": "Your subtask:\nflaky", "times": 1,
         "reply": {"content": {"content": "the site was down", "failed": True}}},
        {"role": "planner", "contains": "FAILED_JSON", "times": 1,
         "reply": {"content": {"subtasks": [{"id": "1", "content": "mirror route @echo", "dependencies": []}]}}},
    ], default_delay_ms=200)
    task_id = system.submit("Get it. SUBTASKS:\n- base facts @echo\n- flaky step after:1\n- wrap up after:2")["task_id"]
    open_task(page, system, task_id)
    expect(page.locator("#answer")).to_contain_text("done: mirror route", timeout=60_000)
    expect(node(page, "2")).to_have_attribute("data-status", "replaced")
    expect(node(page, "2.r1.1")).to_have_attribute("data-status", "done")
    expect(node(page, "2.r1.1")).to_have_attribute("aria-label", re.compile("replaces 2"))
    expect(page.locator("#plan-graph path.edge-replaced")).to_have_count(1)
    expect(page.locator("#task-page-meta, .page-head")).to_contain_text("1 replans")
    node(page, "2").click()
    expect(page.locator("#subtask-detail")).to_contain_text("the site was down")
    page.screenshot(path=str(shots / "replan.png"), full_page=True)
    page.get_by_role("link", name="Workers").click()
    failure = page.locator("#failures tbody tr", has_text=task_id)
    expect(failure).to_contain_text("the site was down")
    expect(failure).to_contain_text("echo")
    expect(page.locator('#pools tr[data-pool="echo"]')).to_contain_text("2")
    # The failure and the trajectories are the owner's alone: another identity sees neither.
    other = {"Authorization": f"Bearer {OTHER_KEY}"}
    assert any(f["task_id"] == task_id for f in system.http.get("/v1/workers/failures").json()["failures"])
    assert not any(f["task_id"] == task_id
                   for f in system.http.get("/v1/workers/failures", headers=other).json()["failures"])
    trajectory = f"/v1/tasks/{task_id}/subtasks/2/trajectory"
    assert system.http.get(trajectory).json()["events"]
    hidden = system.http.get(trajectory, headers=other)
    assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "not_found", hidden.text


def test_submit_with_a_file_and_review_from_the_page(page, system, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("alpha = 1\n")
    page.get_by_role("link", name="Submit").click()
    page.get_by_label("Question").fill("Read the notes @echo")
    page.get_by_label("Files").set_input_files(str(notes))
    page.get_by_label("Let me approve, edit or reject the plan before it runs").check()
    page.get_by_role("button", name="Submit").click()
    page.wait_for_url(re.compile(r"#/tasks/t[0-9a-z]{26}$"))
    task_id = page.url.rsplit("/", 1)[-1]
    record = system.get(task_id)
    assert [f["name"] for f in record["files"]] == ["notes.txt"] and record["review_plan"] is True
    expect(page.locator("#task-files")).to_contain_text("notes.txt")
    expect(page.locator("#review-0")).to_be_visible(timeout=30_000)
    page.get_by_role("button", name="Approve", exact=True).click()
    expect(page.locator("#answer")).to_contain_text("done: Read the notes", timeout=60_000)


def test_a_task_page_lists_its_attached_files(page, system):
    response = system.http.post("/v1/tasks/upload", data={"question": "Read the attachments @echo"}, files=[
        ("files", ("notes.txt", b"alpha = 1\n", "text/plain")),
        ("files", ("table.csv", b"a,b\n" + b"1,2\n" * 1000, "text/csv"))])
    assert response.status_code == 201, response.text
    task_id = response.json()["task_id"]
    open_task(page, system, task_id)
    files = page.locator("#task-files")
    expect(files.get_by_role("heading", name="Files")).to_be_visible()
    expect(files.locator('li[data-file="notes.txt"]')).to_have_text(re.compile(r"notes\.txt\s*text/plain · 10 B"))
    expect(files.locator('li[data-file="table.csv"]')).to_have_text(re.compile(r"table\.csv\s*text/csv · 3\.9 KiB"))
    expect(files.locator("li")).to_have_count(2)

    plain = system.submit("No attachments @echo")["task_id"]
    open_task(page, system, plain)
    expect(page.locator("#task-status")).to_have_attribute("data-status", re.compile("."))   # the record is in
    expect(page.locator("#task-files")).to_be_hidden()


def test_replacements_branch_from_the_replaced_subtask_and_labels_show_two_whole_lines(page, system, shots):
    long = "and then a description long enough that the box has to cut it off after its second line"
    system.llm.script([
        {"role": "worker:", "contains": "Your subtask:\nshaky", "times": 1,
         "reply": {"content": {"content": "the mirror was down", "failed": True}}},
        {"role": "planner", "contains": "FAILED_JSON", "times": 1,
         "reply": {"content": {"subtasks": [{"id": sid, "content": f"{which} route {long} @echo", "dependencies": []}
                                            for sid, which in (("1", "first"), ("2", "second"))]}}},
    ])
    task_id = system.submit(f"Fetch. SUBTASKS:\n- base facts {long} @echo\n- shaky step {long} after:1\n"
                            "- wrap up after:2")["task_id"]
    open_task(page, system, task_id)
    expect(page.locator("#answer")).to_contain_text("done: second route", timeout=60_000)
    expect(node(page, "2")).to_have_attribute("data-status", "replaced")
    links = page.locator("#plan-graph path.edge-replaced")
    expect(links).to_have_count(2)
    starts = {d.split(" H")[0] for d in links.evaluate_all("els => els.map(e => e.getAttribute('d'))")}
    assert len(starts) == 1, starts   # both from the replaced subtask, not one replacement from the other
    assert sorted(links.locator("title").all_text_contents()) == ["2 replaced by 2.r1.1", "2 replaced by 2.r1.2"]
    # A label clamped to two lines is no taller than two lines: nothing of the third shows above the status.
    boxes = page.eval_on_selector_all("#plan-graph .node", """els => els.map(n => {
        const text = n.querySelector('.node-text'), status = n.querySelector('.node-status');
        const t = text.getBoundingClientRect();
        return [n.dataset.subtask, t.height, parseFloat(getComputedStyle(text).lineHeight), t.bottom,
                status.getBoundingClientRect().top, text.scrollHeight > text.clientHeight];
    })""")
    assert any(clamped for *_, clamped in boxes), boxes
    for sid, height, line, bottom, status_top, _ in boxes:
        assert height <= 2 * line + 0.5 and bottom <= status_top, (sid, boxes)
    page.locator("#plan-graph").screenshot(path=str(shots / "replan-graph.png"))


def test_every_page_fits_a_420px_wide_screen(browser, system, shots):
    """Nothing scrolls the page sideways on a phone: the header wraps, tables and the graph scroll in their boxes."""
    response = system.http.post("/v1/tasks/upload", data={"question": THREE}, files=[
        ("files", ("a-rather-long-file-name-for-the-quarterly-report-of-2024.csv", b"a,b\n1,2\n", "text/csv"))])
    task_id = response.json()["task_id"]
    system.wait(task_id)
    page = sign_in(browser, system, width=420)
    base = f"http://127.0.0.1:{system.http_port}/"
    fits = "document.documentElement.scrollWidth <= window.innerWidth"
    try:
        expect(page.locator("#tasks-updated")).not_to_be_empty()
        assert page.evaluate(fits), page.evaluate("document.documentElement.scrollWidth")
        assert page.evaluate("(e => e.scrollWidth > e.clientWidth)(document.querySelector('.table-wrap'))")
        forget = page.get_by_role("button", name="Forget key").bounding_box()
        assert forget and forget["x"] + forget["width"] <= 420, forget

        open_task(page, system, task_id)
        expect(page.locator("#answer")).to_be_visible(timeout=30_000)
        expect(page.locator("#task-files")).to_contain_text("quarterly-report")
        expect(node(page, "3")).to_have_attribute("data-status", "done")
        assert page.evaluate(fits), page.evaluate("document.documentElement.scrollWidth")
        assert page.evaluate("(e => e.scrollWidth > e.clientWidth)(document.getElementById('plan-graph'))")
        page.screenshot(path=str(shots / "task-420.png"), full_page=True)

        for route, ready in (("#/submit", "#submit-form"), ("#/workers", "#pools")):
            page.goto(base + route)
            expect(page.locator(ready)).to_be_visible()
            assert page.evaluate(fits), (route, page.evaluate("document.documentElement.scrollWidth"))
        assert not page.errors, page.errors
    finally:
        page.context.close()


# Each node of the plan graph, scrolled into view: whether it lies whole within the graph's visible box and within its
# scrollable area.
NODES_IN_VIEW = """g => [...g.querySelectorAll('.node')].map(n => {
    n.scrollIntoView({block: 'nearest', inline: 'nearest'});
    const b = g.getBoundingClientRect(), r = n.getBoundingClientRect();
    const left = b.left + g.clientLeft, top = b.top + g.clientTop;
    const visible = r.left >= left - 0.5 && r.right <= left + g.clientWidth + 0.5 && r.top >= top - 0.5 &&
                    r.bottom <= top + g.clientHeight + 0.5;
    const inside = r.left - left + g.scrollLeft >= -0.5 && r.right - left + g.scrollLeft <= g.scrollWidth + 0.5 &&
                   r.top - top + g.scrollTop >= -0.5 && r.bottom - top + g.scrollTop <= g.scrollHeight + 0.5;
    return [n.dataset.subtask, visible, inside];
})"""


def test_a_wide_plan_scrolls_in_its_box_and_every_node_can_be_seen_whole(page, system):
    """A plan of 4 or 6 subtasks in a row is wider than its box at 1400 px and 420 px: the graph scrolls sideways,
    every node lies inside its scrollable area and, scrolled to, whole inside the box; the page does not scroll."""
    fits = "document.documentElement.scrollWidth <= window.innerWidth"
    for count in (4, 6):
        steps = "\n".join(["- s1 @echo"] + [f"- s{i} after:{i - 1}" for i in range(2, count + 1)])
        task_id = system.submit(f"Wide. SUBTASKS:\n{steps}")["task_id"]
        system.wait(task_id)
        page.set_viewport_size({"width": 1400, "height": 1000})
        open_task(page, system, task_id)
        expect(node(page, str(count))).to_have_attribute("data-status", "done", timeout=30_000)
        for width in (1400, 420):
            page.set_viewport_size({"width": width, "height": 1000})
            graph = page.locator("#plan-graph")
            assert graph.evaluate("g => g.scrollWidth > g.clientWidth"), (count, width)
            shown = graph.evaluate(NODES_IN_VIEW)
            assert [sid for sid, _, _ in shown] == [str(i) for i in range(1, count + 1)], shown
            assert all(visible and inside for _, visible, inside in shown), (count, width, shown)
            assert page.evaluate(fits), (count, width, page.evaluate("document.documentElement.scrollWidth"))


# Answers of GET /v1/tasks/{id} that are not final arrive 1.5 s late, so an answer read before the task ended lands
# after the one read at its end (as a slow gateway or network does under load).
STALE_ANSWERS_LATE = r"""(() => {
  const real = window.fetch.bind(window);
  window.fetch = async (input, init) => {
    const response = await real(input, init);
    const path = new URL(typeof input === "string" ? input : input.url, location.href).pathname;
    if (/^\/v1\/tasks\/t[0-9a-z]{26}$/.test(path)) {
      const body = await response.clone().json().catch(() => null);
      if (body && !/SUCCEEDED|FAILED|CANCELLED/.test(body.status || "")) {
        await new Promise((resolve) => setTimeout(resolve, 1500));
      }
    }
    return response;
  };
})();"""


def test_a_late_stale_answer_never_hides_the_final_one(page, system):
    """The page keeps the newest task record: a reply read before the task ended, arriving after the final one,
    neither hides the answer nor brings back a status, and the page still shows the answer at the end."""
    page.add_init_script(STALE_ANSWERS_LATE)
    page.reload()
    expect(page.locator("#identity")).to_have_text(re.compile("key: "))
    system.llm.script([], default_delay_ms=600)
    task_id = system.submit(THREE)["task_id"]
    open_task(page, system, task_id)
    expect(page.locator("#answer")).to_contain_text("done: find alpha", timeout=60_000)
    page.wait_for_timeout(2500)  # every late reply has landed by now
    expect(page.locator("#answer")).to_contain_text("done: find alpha", timeout=1)
    expect(page.locator("#task-status")).to_have_attribute("data-status", "SUCCEEDED", timeout=1)


def test_a_file_a_worker_saved_is_listed_under_its_subtask_and_downloads(page, system):
    system.llm.script([{"role": "worker:echo", "contains": "write the notes file", "times": 1,
                        "reply": {"tool_calls": [{"name": "save", "arguments": {"name": "notes.txt",
                                                                                "text": "alpha = 1\n"}}]}}])
    task_id = system.submit("Please write the notes file @echo")["task_id"]
    assert system.wait(task_id)["status"] == "TASK_STATUS_SUCCEEDED"
    open_task(page, system, task_id)
    node(page, "1").click()
    files = page.locator("#subtask-files")
    expect(files).to_contain_text("notes.txt (10 bytes)")
    with page.expect_download() as info:
        files.get_by_role("button", name="Download notes.txt").click()
    download = info.value
    assert download.suggested_filename == "notes.txt"
    assert Path(download.path()).read_bytes() == b"alpha = 1\n"


def test_approve_a_waiting_tool_call_from_the_page(page, system, shots):
    """WF_APPROVE_TOOLS=echo.add: the call waits on the task page with its arguments until approved there."""
    system.llm.script([{"role": "worker:echo", "contains": "add two and three", "times": 1,
                        "reply": {"tool_calls": [{"name": "add", "arguments": {"a": 2, "b": 3}}]}}])
    task_id = system.submit("Please add two and three @echo")["task_id"]
    open_task(page, system, task_id)
    card = page.locator('#tool-approvals [data-tool="add"]')
    expect(card).to_be_visible(timeout=30_000)
    expect(card).to_contain_text("Tool call waiting for your approval: add (subtask 1)")
    expect(card.locator(".tool-arguments")).to_contain_text('"a": 2')
    page.screenshot(path=str(shots / "tool-approval.png"), full_page=True)
    deadline = time.time() + 5   # the record's progress is written within WF_RECORD_PROGRESS_INTERVAL_S (1 s)
    while system.get(task_id)["status"] != "TASK_STATUS_RUNNING" and time.time() < deadline:
        time.sleep(0.1)
    assert system.get(task_id)["status"] == "TASK_STATUS_RUNNING"
    page.get_by_label("Comment, or why it is denied (optional)").fill("fine")
    page.get_by_role("button", name="Approve the add call in subtask 1").click()
    expect(card).to_have_count(0)
    expect(page.locator("#answer")).to_be_visible(timeout=30_000)
    expect(page.locator('#timeline li[data-type="tool.approved"]')).to_have_count(1)
    events = system.events(task_id)
    approved = next(e for e in events if e["type"] == "tool.approved")
    assert approved["data"]["decided_by"] == "test" and approved["data"]["reason"] == "fine"
    call = next(e for e in events if e["type"] == "tool.call")
    assert call["data"]["ok"] is True and call["data"]["result"] == "5"


def test_a_first_visit_asks_for_a_key_and_unknown_pages_say_so(browser, system):
    context = browser.new_context()
    page = context.new_page()
    refused, errors = [], []
    page.on("response", lambda r: refused.append(r.url) if r.status == 401 else None)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(f"http://127.0.0.1:{system.http_port}/")
        expect(page.get_by_label("API key")).to_be_visible()
        assert refused == [] and errors == []   # asked for a key, not refused for lacking one
        page.get_by_label("API key").fill(API_KEY)
        page.get_by_role("button", name="Use this key").click()
        expect(page.locator("#identity")).to_have_text(re.compile("key: "))

        page.goto(f"http://127.0.0.1:{system.http_port}/#/tasks/t-no-such-task")
        expect(page.get_by_role("heading", name="Task not found")).to_be_visible()
        expect(page.locator("#not-found")).to_contain_text("no task 't-no-such-task'")
        for gone in ("#cancel-task", "#plan-graph", "#task-status", "#stream-state"):
            expect(page.locator(gone)).to_have_count(0)
        page.goto(f"http://127.0.0.1:{system.http_port}/#/nonsense")
        expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
        page.get_by_role("link", name="All tasks").click()
        expect(page.get_by_role("heading", name="Tasks")).to_be_visible()
        assert [e for e in errors if "404" not in e] == []   # the missing task's 404 is the only error logged
    finally:
        context.close()

