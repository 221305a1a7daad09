"""The web form in a real browser: Debian's Chromium driven by Playwright (python, sync API).

A person fills the form with the keyboard, submits, and reads the answer first (the headline, why, the install
command, the runner-up sentence, what would change; focus moves there), the sources of the reasons (web pages
as links), the ranking table and the bar chart of the measured benchmark figures; downloads and copies a starter;
sees that nothing runs off a 390 px wide screen; probes "this machine" (a fast stand-in probe with canned
reports) while watching its progress, and compares two stored probes side by side. Screenshots are saved under
test-artifacts/browser/.

No browser is downloaded: `make test` installs Debian's chromium when it runs as root on
Debian/Ubuntu. Without it this test skips, saying how to get it; with CI=true it fails instead.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from framework_advisor.app import create_app
from framework_advisor.probes.report import ProbeReport
from tests.service_fixtures import settings_for
from tests.openapi_schemas import validate
from tests.conftest import REPO_ROOT

HOST = socket.gethostname()
ARTIFACTS = REPO_ROOT / "test-artifacts" / "browser"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
HOW_TO_GET_CHROMIUM = (
    "Debian's chromium is needed for the browser test: `sudo apt-get install --no-install-recommends "
    "chromium` (`make test` does this itself when run as root on Debian/Ubuntu), or point "
    "FRAMEWORK_ADVISOR_CHROMIUM at a Chromium binary. Playwright's own browser download is not used.")


def _missing(reason: str):
    if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
        pytest.fail(f"CI=true and {reason}. {HOW_TO_GET_CHROMIUM}")
    pytest.skip(f"{reason}. {HOW_TO_GET_CHROMIUM}")


def _chromium() -> str:
    configured = os.environ.get("FRAMEWORK_ADVISOR_CHROMIUM")
    for candidate in (configured, "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    _missing("no Chromium found at " + (configured or "/usr/bin/chromium") + " or on PATH")


# ---- A fast stand-in probe with canned reports (each validated against the contract) ----

def _bench(name: str, value: float, unit: str, **extra) -> dict:
    timing = {"median_s": 0.01, "min_s": 0.0099, "p10_s": 0.0099, "iqr_s": 0.0001, "samples": 5, "block_size": 1,
              "total_s": 0.2, "noisy": False}
    return {"name": name, "device": "cpu", "unit": unit, "value": value, "best": value, "timing": timing,
            "checked": True, **extra}


def _report(quick: bool, figures: dict[str, dict[str, float]], failed: tuple[str, ...] = (), **extra) -> dict:
    """figures: framework -> {matmul_fp32 GFLOP/s, dispatch_latency us, and optionally n: the matmul's size}."""
    frameworks, derived, failures = [], {}, []
    fastest = max(figures, key=lambda fw: figures[fw]["matmul_fp32"])
    for framework, values in figures.items():
        sized = {"params": {"n": int(values["n"])}, "size": int(values["n"])} if "n" in values else {}
        frameworks.append({"framework": framework, "version": "1.0", "threads": 2, "import_s": 1.0,
                           "first_result_s": 0.01, "duration_s": 2.0, "benchmarks": [
            _bench("matmul_fp32", values["matmul_fp32"], "GFLOP/s", percent_of_peak=values["matmul_fp32"] / 10,
                   **sized),
            _bench("dispatch_latency", values["dispatch_latency"], "us", lower_is_better=True)]})
        relative = values["matmul_fp32"] / figures[fastest]["matmul_fp32"]
        derived[framework] = {"failed": False, "relative_speed": round(relative, 4),
                              "slowdown": round(1 / relative, 2), "fastest": fastest}
    for framework in failed:
        failure = {"kind": "crash", "message": "died from SIGSEGV"}
        frameworks.append({"framework": framework, "failure": failure})
        failures.append({"framework": framework, **failure})
        derived[framework] = {"failed": True, "failure_kind": "crash", "failure_message": failure["message"]}
    report = {
        "schema_version": 2, "host": HOST, "created_at": "2026-11-22T00:00:00+00:00", "quick": quick,
        "hardware": {"os": "linux", "arch": "x86_64", "cpu": {"model": "test", "cores": 2}, "memory_gb": 8,
                     "accelerators": []},
        "inventory_s": 0.01, "frameworks": frameworks, "skipped": [], "failures": failures,
        "derived": derived, "versions": {"python": "3.11.7"}, "duration_s": 0.05, **extra,
    }
    for framework, facts in extra.get("derived_extra", {}).items():
        report["derived"][framework].update(facts)
    report.pop("derived_extra", None)
    validate("ProbeReport", report)
    return ProbeReport.model_validate(report)


# The probe already stored when the page opens, and the one the "Probe this machine" button runs.
SEED_REPORT = _report(True, {"pytorch": {"matmul_fp32": 290.0, "dispatch_latency": 12.0},
                             "numpy": {"matmul_fp32": 120.0, "dispatch_latency": 1.5},
                             "mlx": {"matmul_fp32": 3.6, "dispatch_latency": 40.0}}, failed=("jax",))
# The button's probe ran on a busy machine, NumPy's matmul at a smaller size than the others' (too slow for
# the standard one): the chart says the sizes, the comparison its range over the rounds.
BUTTON_REPORT = _report(
    True, {"pytorch": {"matmul_fp32": 310.0, "dispatch_latency": 11.0, "n": 512},
           "jax": {"matmul_fp32": 205.0, "dispatch_latency": 25.0, "n": 512},
           "numpy": {"matmul_fp32": 125.0, "dispatch_latency": 1.4, "n": 256}},
    conditions={"cpus": 2, "waiting_percent": 23.0, "busy": True, "unreliable": True,
                "why": "workers waited for a CPU 23% of their turns"},
    comparisons=[{"benchmark": "matmul_fp32", "device": "cpu", "size": 256, "frameworks": [
        {"framework": "pytorch", "per_call_s": [0.001, 0.0011, 0.001]},
        {"framework": "jax", "per_call_s": [0.0015, 0.0016, 0.0015]},
        {"framework": "numpy", "per_call_s": [0.0025, 0.0022, 0.0027]}]}],
    threads=1, threads_note="one thread per framework: on 2 CPUs, figures at every CPU swing",
    derived_extra={"numpy": {"slowdown_range": {"median": 2.5, "low": 2.2, "high": 2.7, "rounds": 3},
                             "speed_basis": "quick probe: matrix multiply (fp32) only"}})


class StagedFakeProbe:
    """Returns the seed report at once, then takes a few seconds per call, reporting progress as the
    real probe does (inventory, importing, one phase per benchmark, a turn per framework inside it)."""

    def __init__(self):
        self.calls = 0

    def __call__(self, options, progress=None):
        self.calls += 1
        if self.calls == 1:
            return SEED_REPORT
        progress({"phase": "inventory"})
        time.sleep(0.3)
        names = [fw.framework for fw in BUTTON_REPORT.frameworks]
        progress({"phase": "importing", "total": len(names)})
        time.sleep(0.3)
        benchmarks = ("matmul_fp32", "dispatch_latency")
        for index, benchmark in enumerate(benchmarks):
            progress({"phase": "measuring", "benchmark": benchmark, "index": index, "total": len(benchmarks)})
            for done, framework in enumerate(names):
                progress({"framework": framework, "step": benchmark, "done": done, "total": len(names)})
                time.sleep(0.4)
        return BUTTON_REPORT


@pytest.fixture()
def served(request, tmp_path):
    """The app on 127.0.0.1:<free port> in a thread, with one finished probe of this host stored.

    Parametrized indirectly with {"token": ...}: a service with a token and no stored probe."""
    token = getattr(request, "param", {}).get("token")
    app = create_app(settings_for(tmp_path, api_token=token), run_probe=StagedFakeProbe())
    seed_id = None
    if token is None:
        client = app.test_client()
        seeded = client.post("/v1/probes", json={"quick": True})
        assert seeded.status_code == 202, seeded.get_data(as_text=True)
        seed_id = seeded.get_json()["id"]
        deadline = time.monotonic() + 10
        while client.get(f"/v1/probes/{seed_id}").get_json()["status"] != "finished":
            assert time.monotonic() < deadline, "the seed probe never finished"
            time.sleep(0.05)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="browser-test-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", seed_id
    finally:
        server.shutdown()
        thread.join(5)


@pytest.fixture()
def page(served):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed (pip install -e '.[test]')")
    executable = _chromium()
    base_url, _ = served
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1100, "height": 900}, base_url=base_url)
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.problems = []  # console errors, uncaught exceptions, failed or off-host requests
        page.on("console", lambda message: message.type == "error" and page.problems.append(f"console: {message.text}"))
        page.on("pageerror", lambda error: page.problems.append(f"page error: {error}"))
        page.on("requestfailed", lambda request: page.problems.append(f"request failed: {request.url}"))
        page.on("request", lambda request: request.url.startswith((base_url, f"blob:{base_url}"))
                or page.problems.append(f"off-host request: {request.url}"))
        try:
            yield page
        finally:
            browser.close()


def _focused(page, expression: str):
    return page.evaluate(f"() => {{ const e = document.activeElement; return {expression}; }}")


def _tab_until(page, predicate: str, limit: int = 15) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if _focused(page, predicate):
            return
    raise AssertionError(f"Tab never reached an element where {predicate}")


def _recommendation(base_url: str, body: dict) -> dict:
    """The answer the form shows, as the API gives it."""
    import json
    import urllib.request

    request = urllib.request.Request(f"{base_url}/v1/recommendations", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


# Everything that runs past the viewport's right edge (outside a container that scrolls or clips it), a page
# wider than the viewport, and each table's container: one that scrolls (overflow-x auto or scroll) and fits.
OVERFLOW_CHECK = """() => {
    const width = document.documentElement.clientWidth;
    const problems = [];
    const name = (e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
        (typeof e.className === 'string' && e.className ? '.' + e.className.trim().split(/\\s+/).join('.') : '');
    if (document.documentElement.scrollWidth > window.innerWidth) {
        problems.push(`page scrollWidth ${document.documentElement.scrollWidth} > innerWidth ${window.innerWidth}`);
    }
    const clipped = (e) => {
        for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
            const overflow = getComputedStyle(a).overflowX;
            if (overflow !== 'visible' && a.getBoundingClientRect().right <= width + 0.5) return true;
        }
        return false;
    };
    for (const e of document.querySelectorAll('body *')) {
        const box = e.getBoundingClientRect();
        if (!box.width || !box.height || e.closest('.sr-only')) continue;
        if ((box.right > width + 0.5 || box.left < -0.5) && !clipped(e)) {
            problems.push(`${name(e)} spans ${Math.round(box.left)}-${Math.round(box.right)} of ${width}px`);
        } else if (e.clientWidth && e.scrollWidth > e.clientWidth + 1 && box.left + e.scrollWidth > width + 0.5
                   && getComputedStyle(e).overflowX === 'visible' && !clipped(e)) {
            // a box that fits, with content that runs out of it (a word or a line that cannot wrap)
            problems.push(`${name(e)} holds ${e.scrollWidth}px of content in ${e.clientWidth}px`);
        }
    }
    for (const table of document.querySelectorAll('table')) {
        const box = table.getBoundingClientRect();
        if (!box.width) continue;
        const wrap = table.parentElement;
        const overflow = getComputedStyle(wrap).overflowX;
        if (!['auto', 'scroll'].includes(overflow) || wrap.getBoundingClientRect().right > width + 0.5) {
            problems.push(`${name(table)}: its container ${name(wrap)} (overflow-x ${overflow}) does not scroll it in ${width}px`);
        }
    }
    return problems;
}"""


def _bar_labels(page) -> list[str]:
    return page.locator("#chart svg rect.bar").evaluate_all("bars => bars.map(b => b.getAttribute('aria-label'))")


def test_a_person_gets_a_ranking_and_chart_and_probes_this_machine(page, served, capsys):
    from playwright.sync_api import expect

    _, seed_id = served
    page.goto("/")
    # The form builds its choices from GET /v1/vocabulary, then marks itself ready.
    expect(page.locator("#advisor-form")).to_have_attribute("data-ready", "true")
    expect(page.locator("#machine-summary")).to_contain_text("This machine")

    # Every control has an accessible name and every fieldset a legend.
    unlabelled = page.evaluate("""() => [...document.querySelectorAll('input, select, textarea, button, progress')]
        .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
                     && !e.getAttribute('aria-labelledby') && !(e.tagName === 'BUTTON' && e.textContent.trim()))
        .map(e => e.outerHTML)""")
    assert unlabelled == []
    assert page.evaluate("() => [...document.querySelectorAll('fieldset')].every(f => f.querySelector(':scope > legend'))")

    # Keyboard only: Tab into the goals, Space ticks one; arrows pick the experience; Enter submits.
    page.keyboard.press("Tab")
    assert _focused(page, "e.name + '=' + e.value") == "goals=learning"
    page.keyboard.press("Tab")
    page.keyboard.press("Space")
    expect(page.get_by_role("checkbox", name="Research")).to_be_checked()
    _tab_until(page, "e.name === 'experience'")
    assert _focused(page, "getComputedStyle(e).outlineStyle") == "solid", "keyboard focus must be visible"
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("radio", name="Expert")).to_be_checked()
    _tab_until(page, "e.id === 'submit'")
    page.keyboard.press("Enter")

    # The ranking table: five frameworks, ranks 1-5, announced in a live region.
    rows = page.locator("#ranking-table tbody tr")
    expect(rows).to_have_count(5)
    assert rows.locator("td:first-child").all_inner_texts() == ["1", "2", "3", "4", "5"]
    assert sorted(rows.locator("th").all_inner_texts()) == ["JAX", "MLX", "NumPy", "PyTorch", "TensorFlow (Keras)"]
    expect(page.locator("#announce")).to_contain_text("Recommendation ready")
    expect(page.locator("#results")).to_contain_text(f"Measurements used: probe {seed_id}")

    # The answer comes first: the headline, why, the install command, the runner-up sentence, as the JSON says them;
    # keyboard focus moved to the headline.
    answer = _recommendation(served[0], {"goals": ["research"], "experience": "expert"})
    first_json, summary = answer["ranking"][0], answer["summary"]
    assert _focused(page, "e.id") == "answer-headline", "focus moves to the answer"
    headline = page.locator("#answer-headline")
    expect(headline).to_have_text(summary["headline"])
    assert page.evaluate("() => document.querySelector('#results').firstElementChild.id") == "answer"
    expect(page.locator("#answer-why")).to_have_text(f"Why: {summary['why']}")
    expect(page.locator("#answer .code-block.install code")).to_have_text(first_json["install"])
    expect(page.locator("#runner-up")).to_have_text(f"Runner-up: {summary['runner_up']}")
    expect(page.locator("#announce")).to_contain_text(summary["headline"])
    changes = [change["message"] for change in answer["what_would_change"]]
    expect(page.locator("#what-would-change li")).to_have_text(changes or [re.compile("No single change")])
    # Human words for where the hardware came from, not the API's "this-machine"; installed or not: this machine.
    expect(page.locator("#results")).to_contain_text("Hardware (this machine):")
    expect(page.locator("#results")).not_to_contain_text("this-machine")

    # Sources: seed articles as labelled text, web pages as links (JAX's reasons cite one).
    first_section = page.locator(f"#fw-{first_json['framework']}")
    shown = [reason for reason in first_json["reasons"] if reason["counted"]]  # folded ones show no sources
    seeded = next(reason for reason in shown if any(ref.startswith("seed:") for ref in reason["refs"]))
    seeds = [ref.removeprefix("seed:") for ref in seeded["refs"] if ref.startswith("seed:")]
    # seed:<file> "the phrase it quotes": one line per article, its phrases quoted
    seed_file = seeds[0].partition(" ")[0]
    quotes = [f"“{seed.partition(' ')[2].strip(chr(34))}”" for seed in seeds
              if seed.startswith(seed_file) and seed.partition(" ")[2]]
    expect(first_section.locator(".sources li.seed-ref").first).to_have_text(
        f"seed article {seed_file}" + (f": {' · '.join(quotes)}" if quotes else ""))
    assert first_section.locator(".sources a").count() == sum(
        ref.startswith("https://") for reason in shown for ref in reason["refs"])
    folded = [reason for reason in first_json["reasons"] if not reason["counted"]]
    if folded:  # one short line of rule ids and points, not the text again
        expect(first_section.locator("li.folded")).to_have_count(1)
        for reason in folded:
            expect(first_section.locator("li.folded")).to_contain_text(reason["rule"])
            expect(first_section.locator(".reasons")).not_to_contain_text(reason["message"])
    jax_json = next(item for item in answer["ranking"] if item["framework"] == "jax")
    urls = [ref for reason in jax_json["reasons"] for ref in reason["refs"] if ref.startswith("https://")]
    assert urls, "JAX's reasons cite a web page"
    page.locator("#ranking-table").get_by_role("link", name="JAX").click()
    link = page.locator("#fw-jax .sources a").first
    expect(link).to_be_visible()
    expect(link).to_have_attribute("href", urls[0])
    expect(link).to_have_text(urls[0].removeprefix("https://").rstrip("/"))

    # Keyboard: from the headline, Tab reaches the install command's Copy, then the starter's Download; Enter
    # downloads the program as the file it names, with the answer's code in it.
    headline.focus()
    page.keyboard.press("Tab")
    assert _focused(page, "e.getAttribute('aria-label')") == f"Copy {first_json['name']} install command"
    page.keyboard.press("Tab")
    assert _focused(page, "e.className") == "download"
    with page.expect_download() as download_info:
        page.keyboard.press("Enter")
    download = download_info.value
    assert download.suggested_filename == first_json["starter"]["filename"]
    assert Path(download.path()).read_text(encoding="utf-8") == first_json["starter"]["code"]

    # The chart: the seed probe's figures, one labelled bar per framework and benchmark.
    expect(page.locator("#chart")).to_have_attribute("data-probe-id", seed_id)
    chart = page.get_by_role("group", name=re.compile("Benchmark figures per framework"))
    expect(chart).to_be_visible()
    expect(page.locator("#chart svg rect.bar")).to_have_count(6)
    expect(page.get_by_role("img", name="PyTorch on CPU, Matrix multiply (fp32): 290 GFLOP/s (higher is better)")).to_have_count(1)
    expect(page.get_by_role("img", name="NumPy on CPU, Dispatch latency: 1.50 us (lower is better)")).to_have_count(1)
    widths = {bar.get_attribute("data-framework"): float(bar.get_attribute("width"))
              for bar in page.locator("#chart g[data-benchmark='matmul_fp32'] rect.bar").all()}
    assert widths["pytorch"] > widths["numpy"] > widths["mlx"] > 0
    expect(page.locator("#chart")).to_contain_text("JAX: not measured (crash: died from SIGSEGV)")

    # A long starter is collapsed under a summary that says how long; opened, it has a Copy button.
    first = page.locator("details.framework[open]").first
    program = first.locator("details.starter-code")
    lines = len(first_json["starter"]["code"].rstrip("\n").split("\n"))
    assert lines > 25, "the research starter is long enough to be collapsed"
    expect(program).not_to_have_attribute("open", "")
    expect(program.locator("summary")).to_have_text(f"Show the program ({lines} lines)")
    program.locator("summary").click()
    copy = first.get_by_role("button", name=re.compile("starter code"))
    copy.click()
    expect(page.locator("#copy-status")).to_contain_text("Copied")
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied == first.locator(".code-block code").nth(1).inner_text()

    page.screenshot(path=str(_artifact("form-ranking.png")), full_page=True)

    # A phone (390 px wide): nothing runs off the screen, each table scrolls inside its own container.
    page.set_viewport_size({"width": 390, "height": 844})
    expect(page.locator("#fw-jax")).to_have_attribute("open", "")  # its reasons and sources at that width too
    assert page.evaluate(OVERFLOW_CHECK) == []
    headline.scroll_into_view_if_needed()
    page.screenshot(path=str(_artifact("form-390px.png")), full_page=True)
    # The check sees a cut-off: a line that cannot wrap and a table outside any scrolling container.
    page.evaluate("""() => {
        const wide = document.createElement('p'); wide.id = 'too-wide'; wide.style.whiteSpace = 'nowrap';
        wide.textContent = 'x'.repeat(300);
        const table = document.querySelector('#ranking-table').cloneNode(true); table.id = 'bare-table';
        table.style.minWidth = '600px';
        document.querySelector('#results').append(wide, table);
    }""")
    found = page.evaluate(OVERFLOW_CHECK)
    assert any("scrollWidth" in problem for problem in found), found
    assert any("p#too-wide" in problem for problem in found), found
    assert any("table#bare-table: its container" in problem for problem in found), found
    page.evaluate("() => { document.querySelector('#too-wide').remove(); document.querySelector('#bare-table').remove(); }")
    assert page.evaluate(OVERFLOW_CHECK) == []
    page.set_viewport_size({"width": 1100, "height": 900})

    # "Probe this machine" (keyboard): live progress, then a new chart and an updated ranking.
    page.get_by_role("button", name="Probe this machine").focus()
    page.keyboard.press("Enter")
    progress = page.get_by_role("progressbar", name="Probe progress")
    expect(progress).to_be_visible()
    expect(page.locator("#probe-status")).to_contain_text("Measuring", timeout=10_000)
    page.wait_for_function("() => { const v = document.querySelector('#probe-progress').value; return v > 0 && v < 100; }")
    expect(page.locator("#probe-detail")).to_contain_text("Step:")
    expect(page.locator("#probe-status")).to_contain_text("Probe finished", timeout=20_000)
    assert progress.evaluate("e => e.value") == 100
    new_id = page.locator("#chart").get_attribute("data-probe-id")
    assert new_id and new_id != seed_id
    expect(page.get_by_role("img", name="JAX on CPU, Matrix multiply (fp32) at n=512: 205 GFLOP/s (higher is better)")).to_have_count(1)
    # Sizes differ within the group: the heading and each bar's visible label say so; the table has a size column.
    matmul = page.locator("#chart g[data-benchmark='matmul_fp32']")
    expect(matmul).to_have_attribute("aria-label", re.compile("measured at different sizes"))
    expect(matmul.locator("text.bar-label")).to_contain_text(["PyTorch (CPU, n=512)", "JAX (CPU, n=512)",
                                                               "NumPy (CPU, n=256)"])
    expect(page.locator("#figures-table")).to_contain_text("n=256")
    # The busy machine is said before the figures; the ratio is written as everywhere else, with its range.
    expect(page.locator(".probe-warnings")).to_contain_text("The machine was busy while this probe measured "
                                                            "(workers waited for a CPU 23% of their turns)")
    expect(page.locator(".probe-comparisons")).to_contain_text(
        "NumPy: 2.5x (2.2x-2.7x over 3 rounds) slower than PyTorch (quick probe: matrix multiply (fp32) only)")
    expect(page.locator(".probe-comparisons")).to_contain_text("Matrix multiply (fp32) on CPU was compared at size 256")
    expect(page.locator("#chart")).to_contain_text("Threads: one thread per framework")
    labels = _bar_labels(page)
    assert len(labels) == 6 and not any(label.startswith("MLX") for label in labels)
    expect(page.locator("#results")).to_contain_text(f"Measurements used: probe {new_id}")
    expect(page.locator("#probe-error")).to_be_hidden()

    # One rounding rule: the form writes a ratio exactly as the Python side does.
    from framework_advisor.probes.comparisons import Interval, ratio_text

    ratios = [1.0, 1.004, 1.153, 1.995, 2.0, 2.84, 9.96, 10.0, 38.4, 1234.4]  # no exact halves: JS rounds them up
    assert page.evaluate(f"() => {ratios}.map(ratioText)") == [ratio_text(r) for r in ratios]
    interval = Interval(median=2.0, low=1.5, high=2.6, rounds=5)
    assert page.evaluate(f"() => intervalText({interval.model_dump_json()})") == interval.text()

    page.locator("#measurements").screenshot(path=str(_artifact("chart.png")))
    page.screenshot(path=str(_artifact("form-after-probe.png")), full_page=True)
    assert page.problems == []
    with capsys.disabled():
        print(f"\nbrowser test screenshots in {ARTIFACTS}: form-ranking.png, form-390px.png, chart.png, "
              "form-after-probe.png")


def _artifact(name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name


@pytest.mark.parametrize("served", [{"token": "browser-test-token-0123456789abcdef"}], indirect=True)
def test_without_a_probe_the_chart_says_so_and_a_token_protected_probe_explains(page):
    from playwright.sync_api import expect

    page.goto("/")
    expect(page.locator("#advisor-form")).to_have_attribute("data-ready", "true")
    page.get_by_role("checkbox", name="Learning deep learning").check()
    page.get_by_role("radio", name="Beginner").check()
    page.get_by_role("button", name="Recommend a framework").click()
    expect(page.locator("#ranking-table tbody tr")).to_have_count(5)
    expect(page.locator("#results")).to_contain_text("Measurements used: none.")
    expect(page.locator("#chart")).to_contain_text("This machine has no finished probe yet")
    expect(page.locator("#chart svg")).to_have_count(0)
    expect(page.locator("#results .installed").first).to_contain_text(re.compile("installed here", re.I))

    # Described hardware is another machine: the answer says so in words, and says nothing of what is installed.
    page.get_by_role("radio", name="Describe hardware").check()
    page.get_by_label("Operating system").select_option("windows")
    page.get_by_role("button", name="Recommend a framework").click()
    expect(page.locator("#results")).to_contain_text("Hardware (as you described it): Windows")
    expect(page.locator("#answer-headline")).to_be_focused()
    expect(page.locator("#results .installed")).to_have_count(0)
    expect(page.locator("#results")).not_to_contain_text(re.compile("installed here", re.I))
    expect(page.locator("#results")).not_to_contain_text("counted once in its group")

    page.get_by_role("button", name="Probe this machine").click()
    alert = page.locator("#probe-error")
    expect(alert).to_be_visible()
    expect(alert).to_have_attribute("role", "alert")
    expect(alert).to_contain_text("framework-advisor probe")
    expect(page.get_by_role("button", name="Probe this machine")).to_have_attribute("aria-disabled", "false")
    # The browser itself logs the 401 response as a console error; nothing else may go wrong.
    assert [p for p in page.problems if "401" not in p] == []


def test_a_missing_browser_skips_with_advice_but_fails_under_ci(monkeypatch):
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true and no Chromium found"):
        _chromium()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="apt-get install --no-install-recommends chromium"):
        _chromium()


def _upload(base_url: str, report: ProbeReport) -> str:
    """Store a report as an upload (POST /v1/probes with the report): the service answers 201 with its id."""
    import json
    import urllib.request

    request = urllib.request.Request(f"{base_url}/v1/probes", data=report.model_dump_json(exclude_none=True).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
        return json.load(response)["id"]


def test_a_person_compares_two_stored_probes_side_by_side(page, served):
    """Two stored probes of this machine: PyTorch's matmul went from 290 to 400 GFLOP/s (beyond the noise of its
    samples), its dispatch latency moved 1% (within it), NumPy's matmul was measured at another size (not
    compared) and MLX only in the first."""
    from playwright.sync_api import expect

    base_url, seed_id = served
    before = _report(False, {"pytorch": {"matmul_fp32": 290.0, "dispatch_latency": 12.0, "n": 1024},
                             "numpy": {"matmul_fp32": 120.0, "dispatch_latency": 1.5, "n": 1024},
                             "mlx": {"matmul_fp32": 3.6, "dispatch_latency": 40.0, "n": 1024}})
    after = _report(False, {"pytorch": {"matmul_fp32": 400.0, "dispatch_latency": 12.1, "n": 1024},
                            "numpy": {"matmul_fp32": 121.0, "dispatch_latency": 1.5, "n": 512}})
    after = after.model_copy(update={"frameworks": [dataclasses.replace(after.frameworks[0], version="1.1"),
                                                    *after.frameworks[1:]]})  # PyTorch upgraded
    first, second = _upload(base_url, before), _upload(base_url, after)

    page.goto("/")
    expect(page.locator("#advisor-form")).to_have_attribute("data-ready", "true")
    expect(page.locator("#compare-status")).to_contain_text("3 stored probes to compare")
    # The newest two are preselected, A the older; every stored probe (the seed too) can be chosen.
    assert page.get_by_label("Probe A (before)").input_value() == first
    assert page.get_by_label("Probe B (after)").input_value() == second
    options = page.locator("#compare-a option").all_inner_texts()
    assert len(options) == 3 and any(text.startswith(seed_id) for text in options)
    assert "PyTorch, NumPy, MLX" in options[1] and "full" in options[1]

    page.get_by_role("button", name="Compare", exact=True).focus()
    page.keyboard.press("Enter")
    expect(page.locator("#compare-status")).to_contain_text("1 changed beyond their noise")
    table = page.locator("#diff-table")
    matmul = table.locator("tbody tr", has_text="PyTorch").filter(has_text="Matrix multiply (fp32)")
    expect(matmul).to_have_attribute("data-verdict", "better")
    expect(matmul).to_contain_text("290 GFLOP/s")
    expect(matmul).to_contain_text("400 GFLOP/s")
    expect(matmul).to_contain_text("1.38x")
    dispatch = table.locator("tbody tr", has_text="PyTorch").filter(has_text="Dispatch latency")
    expect(dispatch).to_have_attribute("data-verdict", "within-noise")
    expect(page.locator("#diff-versions")).to_contain_text("PyTorch: 1.0 → 1.1")
    apart = page.locator("#diff-apart")
    expect(apart).to_contain_text("Not compared: NumPy Matrix multiply (fp32) on CPU, A n=1024, B n=512")
    expect(apart).to_contain_text("Only in A: MLX Matrix multiply (fp32) on CPU n=1024: 3.60 GFLOP/s")
    expect(page.locator("#compare-result")).to_contain_text("Noise: a change exceeds the noise when")
    page.locator("#compare").screenshot(path=str(_artifact("compare.png")))
    # On a phone the eight-column table scrolls inside its container and nothing else runs off the screen.
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate(OVERFLOW_CHECK) == []
    assert page.evaluate("() => { const w = document.querySelector('#diff-table').parentElement; "
                         "return w.scrollWidth > w.clientWidth; }"), "the table is wider than the screen: it scrolls"
    page.locator("#compare").screenshot(path=str(_artifact("compare-390px.png")))
    assert page.problems == []


# ---- A page on another origin tries to turn the browser against the service (issue 13, 4) ----

ATTACK_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>not the advisor</title></head><body>
<iframe name="sink1"></iframe><iframe name="sink2"></iframe>
<form id="plain" method="POST" action="TARGET/v1/probes" target="sink1" enctype="text/plain">
  <input name='{"quick": true, "pad": "' value='"}'>
</form>
<form id="urlencoded" method="POST" action="TARGET/v1/probes" target="sink2"><input name="quick" value="true"></form>
<script>
window.attack = async () => {
  const outcome = {};
  const tryFetch = async (name, init) => {
    try { const r = await fetch('TARGET/v1/probes', init); outcome[name] = r.type === 'opaque' ? 'opaque' : r.status; }
    catch (e) { outcome[name] = 'blocked'; }
  };
  await tryFetch('empty no-cors', {method: 'POST', mode: 'no-cors'});
  await tryFetch('text no-cors', {method: 'POST', mode: 'no-cors', headers: {'Content-Type': 'text/plain'},
                                  body: '{"quick": true}'});
  await tryFetch('json cors', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: '{"quick": true}'});
  outcome['beacon'] = navigator.sendBeacon('TARGET/v1/probes', '{"quick": true}');
  document.getElementById('plain').submit();
  document.getElementById('urlencoded').submit();
  return outcome;
};
</script></body></html>"""


@contextlib.contextmanager
def _attacker_site(target: str):
    """A second HTTP server, on another port: the page of someone else's site."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    page = ATTACK_PAGE.replace("TARGET", target).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        thread.join(5)


@contextlib.contextmanager
def _browser(*extra_args: str):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed (pip install -e '.[test]')")
    executable = _chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True,
                                             args=[*CHROMIUM_ARGS, *extra_args])
        try:
            page = browser.new_context().new_page()
            page.set_default_timeout(15_000)
            yield page
        finally:
            browser.close()


def _stored_probe_ids(base_url: str) -> list[str]:
    import json
    import urllib.request

    with urllib.request.urlopen(f"{base_url}/v1/probes", timeout=10) as response:
        return [probe["id"] for probe in json.load(response)["probes"]]


@pytest.mark.parametrize("attacker_host", ["127.0.0.1", "localhost"], ids=["same-site", "cross-site"])
def test_a_page_on_another_origin_starts_no_probe(served, attacker_host):
    """Another port of the same host is the same *site* to a browser; another host name is another site. From
    either, an empty no-cors POST, a text/plain body, a JSON POST (CORS preflight), a beacon and two form posts
    try to start a probe: none does (before, the empty one started a full probe)."""
    base_url, seed_id = served
    with _attacker_site(base_url) as port, _browser() as page:
        answers = []
        page.on("response", lambda response: response.request.method == "POST"
                and response.url.startswith(base_url) and answers.append(response.status))
        page.goto(f"http://{attacker_host}:{port}/")
        outcome = page.evaluate("window.attack()")
        page.wait_for_timeout(1500)  # the forms' navigations and the beacon land
    assert outcome["json cors"] == "blocked"  # the preflight got no Access-Control-Allow-Origin: never sent
    assert answers and set(answers) == {403}, answers  # everything that reached the service was refused
    assert _stored_probe_ids(base_url) == [seed_id]


def test_a_rebound_host_name_reads_nothing_and_starts_nothing(served):
    """DNS rebinding: a site's name now resolves to 127.0.0.1, so its page is "same-origin" with the service and
    may read what it answers. Chromium maps the name (--host-resolver-rules) as a rebinding DNS server would."""
    base_url, seed_id = served
    port = base_url.rsplit(":", 1)[1]
    with _browser("--host-resolver-rules=MAP rebind.test 127.0.0.1") as page:
        response = page.goto(f"http://rebind.test:{port}/")
        assert response.status == 421 and response.headers["content-type"] == "application/problem+json"
        seen = page.evaluate("""async () => {
            const hardware = await fetch('/v1/hardware');
            const probe = await fetch('/v1/probes', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                                     body: '{"quick": true}'});
            return {hardware: hardware.status, probe: probe.status, body: await hardware.text()};
        }""")
    assert seen["hardware"] == 421 and seen["probe"] == 421
    assert "cpu" not in seen["body"] and "does not answer for the host 'rebind.test'" in seen["body"]
    assert _stored_probe_ids(base_url) == [seed_id]
