"""Visual checks for real: busybox apps on a docker network, Chromium over DevTools, baselines live and stored."""
from __future__ import annotations

import io
import json
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image

from jenkins_docker_ci import config as config_module
from jenkins_docker_ci.checks import html_report, report
from jenkins_docker_ci.checks.browser import Browser
from jenkins_docker_ci.checks.runner import Target, run_all

from .checks_apps import app, build, network, page, remove_images

pytestmark = pytest.mark.integration


def checks_config(store: str = "", template: str = "{repository}:{target}", **visual) -> config_module.ChecksConfig:
    data = {"visual": [{"name": "look", "pages": ["/"], "viewports": ["800x600"], "ignore": [".ad"],
                        "max_diff_ratio": 0.001, **visual}],
            "baseline_image": template, "baseline_store": store or "registry"}
    return config_module.from_dict({"checks": data}).checks


@pytest.fixture
def shop(docker_client, unique, no_leaks, tmp_path):
    """Builds images on demand (`shop.image(variant, html)`), removes them and the network at the end."""
    class Shop:
        repository = f"jdci-tests/visual-{unique}"
        env = f"jdci-tests-visual-{unique}"
        refs: list[str] = []

        def image(self, variant: str, html: str) -> str:
            ref = f"{self.repository}:{variant}"
            build(docker_client, ref, html)
            self.refs.append(ref)
            return ref

        def target(self, url: str, branch: str = "base") -> Target:
            return Target(urls={"app": url}, network=self.env, env_name=self.env, image=self.refs[-1],
                          registry="127.0.0.1:5000", repository=self.repository, target_branch=branch,
                          app_port=8000, health_path="/healthz")

    shop = Shop()
    with network(docker_client, shop.env):
        yield shop
    remove_images(docker_client, *shop.refs)


def run_against(docker_client, shop, pr_html: str, tmp_path: Path, checks=None, base_html: str | None = None):
    if base_html is not None:
        shop.image("base", base_html)
    pr = shop.image("pr", pr_html)
    with app(docker_client, pr, shop.env) as url:
        return run_all(checks or checks_config(), shop.target(url), tmp_path / "reports", client=docker_client)


def red_positions(image: Image.Image) -> list[tuple[int, int]]:
    data = image.convert("RGB").tobytes()
    width = image.width
    return [((i // 3) % width, (i // 3) // width) for i in range(0, len(data), 3)
            if data[i] == 255 and data[i + 1] == 0 and data[i + 2] == 0]


def red_pixels(path: Path) -> int:
    with Image.open(path) as image:
        return len(red_positions(image))


def test_unchanged_page_passes_against_the_target_image_run_alongside(docker_client, shop, tmp_path):
    [result] = run_against(docker_client, shop, page(), tmp_path, base_html=page())
    assert result.status == "passed", result.detail
    assert "live" in result.detail
    [shot] = result.shots
    assert shot.diff_ratio == 0 and shot.dom_changes == ()
    assert red_pixels(tmp_path / "reports" / shot.diff) == 0


def test_changed_text_fails_with_a_diff_image_and_a_dom_diff_naming_it(docker_client, shop, tmp_path):
    [result] = run_against(docker_client, shop, page(title="Pay now"), tmp_path, base_html=page())
    assert result.status == "failed", result.detail
    [shot] = result.shots
    assert "h1#title: 'Checkout' -> 'Pay now'" in shot.dom_changes
    assert "h1#title: 'Checkout' -> 'Pay now'" in result.detail
    with Image.open(tmp_path / "reports" / shot.diff) as diff:
        reds = red_positions(diff)
    assert reds, "the diff image highlights nothing"
    # the change is the heading, near the top: every highlighted pixel is in its band
    assert max(y for _, y in reds) < 80 and min(y for _, y in reds) > 5


def test_changed_layout_fails_and_names_the_new_element(docker_client, shop, tmp_path):
    [result] = run_against(docker_client, shop, page(box=200, extra='<button id="buy">Buy</button>'), tmp_path,
                           base_html=page())
    assert result.status == "failed", result.detail
    [shot] = result.shots
    assert "added: button#buy 'Buy'" in shot.dom_changes
    assert red_pixels(tmp_path / "reports" / shot.diff) > 1000


def test_a_change_inside_an_ignored_region_passes(docker_client, shop, tmp_path):
    [result] = run_against(docker_client, shop, page(ad="A completely different advert, much longer"), tmp_path,
                           base_html=page())
    assert result.status == "passed", result.detail
    assert result.shots[0].dom_changes == ()
    # and without `ignore` the same change fails: the region really changed
    [unignored] = run_against(docker_client, shop, page(ad="A completely different advert, much longer"),
                              tmp_path / "again", checks=checks_config(ignore=[]))
    assert unignored.status == "failed", unignored.detail


def test_no_baseline_is_skipped_then_approve_stores_one_in_the_registry(docker_client, shop, tmp_path, monkeypatch):
    from jenkins_docker_ci.checks.approve import approve

    [first] = run_against(docker_client, shop, page(), tmp_path / "one")
    assert first.status == "skipped" and "jdci check approve" in first.detail
    assert (tmp_path / "one" / "reports" / first.shots[0].pr).is_file()
    config = config_module.from_dict({"image": {"registry": "127.0.0.1:5000", "repository": shop.repository},
                                      "checks": {"visual": [{"name": "look"}]}})
    approved = approve(config, tmp_path / "one" / "reports", target="base")
    baselines_ref = f"127.0.0.1:5000/{shop.repository}-baselines:base"
    shop.refs.append(baselines_ref)
    assert approved.where == baselines_ref
    assert "look/index@800x600.png" in approved.files and "look/index@800x600.dom.json" in approved.files
    docker_client.api.remove_image(baselines_ref)  # read back from the registry, not the local copy
    [same] = run_against(docker_client, shop, page(), tmp_path / "two")
    assert same.status == "passed" and "stored" in same.detail, same.detail
    [changed] = run_against(docker_client, shop, page(title="Pay now"), tmp_path / "three")
    assert changed.status == "failed" and "h1#title: 'Checkout' -> 'Pay now'" in changed.detail


def test_stored_baselines_in_a_folder(docker_client, shop, tmp_path):
    from jenkins_docker_ci.checks.approve import approve

    store = str(tmp_path / "baselines")
    checks = checks_config(store=store, template="")
    [first] = run_against(docker_client, shop, page(), tmp_path / "one", checks=checks)
    assert first.status == "skipped"
    config = config_module.from_dict({"image": {"repository": shop.repository},
                                      "checks": {"baseline_store": store, "visual": [{"name": "look"}]}})
    approve(config, tmp_path / "one" / "reports", target="base")
    [changed] = run_against(docker_client, shop, page(box=10), tmp_path / "two", checks=checks)
    assert changed.status == "failed" and "stored" not in changed.detail and "size differs" not in changed.detail


def test_reports_junit_counts_and_html_shows_the_three_images_in_chromium(docker_client, shop, tmp_path):
    checks = config_module.from_dict({"checks": {
        "baseline_image": "{repository}:{target}",
        "http": [{"name": "home", "contains": "Checkout"}, {"name": "json", "path": "/healthz", "regex": "^ok"},
                 {"name": "missing", "path": "/nope", "required": False}],
        "visual": [{"name": "look", "viewports": ["800x600"], "ignore": [".ad"]}]}}).checks
    results = run_against(docker_client, shop, page(title="Pay <now> & \"then\""), tmp_path, checks=checks,
                          base_html=page())
    by_name = {r.name: r for r in results}
    assert [by_name[n].status for n in ("home", "json", "missing", "look")] == ["failed", "passed", "failed", "failed"]
    reports = tmp_path / "reports"
    root = ET.parse(report.write_junit(results, reports)).getroot()
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == ("4", "3", "0", "0")
    assert len(root.findall("testcase")) == 4 and root.find("testcase[@name='missing']").get("classname") == \
        "jdci.http.optional"
    path = html_report.write(results, reports, title="checks <test>", preview_url="http://127.0.0.1:1/")
    text = path.read_text()
    assert "Pay &lt;now&gt; &amp;" in text and "<now>" not in text
    probe = ("Array.from(document.querySelectorAll('#check-look ~ .shots figure')).map(f => "
             "[f.dataset.kind, f.querySelector('img') ? f.querySelector('img').naturalWidth : 0])")
    with Browser.start("/usr/bin/chromium", deadline=time.monotonic() + 60) as browser:
        shown = browser.capture(path.as_uri(), width=1400, height=900, full_page=True, evaluate=probe)
    (reports / "report-screenshot.png").write_bytes(shown.png)
    assert shown.value == [["baseline", 800], ["pr", 800], ["diff", 800]]
    assert len(red_positions(Image.open(io.BytesIO(shown.png)))) > 50  # the diff's red is on screen
    json.dumps([r.to_json() for r in results])  # serialisable for --json


def test_browser_is_killed_and_its_profile_removed_on_timeout(docker_client, shop, tmp_path, monkeypatch):
    """A page that never shows what `wait_for` waits for: the check errors at its timeout, and the browser,
    its renderers and its temporary profile are gone."""
    import os

    from jenkins_docker_ci.checks import browser as browser_module

    started: list[Browser] = []
    real_start = browser_module.Browser.start.__func__

    def recording_start(cls, executable, *, deadline):
        started.append(real_start(cls, executable, deadline=deadline))
        return started[-1]

    monkeypatch.setattr(browser_module.Browser, "start", classmethod(recording_start))
    [result] = run_against(docker_client, shop, page(), tmp_path,
                           checks=checks_config(wait_for="#never-there", timeout=3), base_html=page())
    assert result.status == "error" and "'#never-there' never appeared" in result.detail
    [browser] = started
    assert browser.process.poll() is not None and not os.path.exists(browser.profile)
    alive = [pid for pid in os.listdir("/proc") if pid.isdigit() and _alive_in_group(int(pid), browser.process.pid)]
    assert alive == []  # no renderer or zygote of that browser runs on (zombies wait for init to reap them)


def _alive_in_group(pid: int, group: int) -> bool:
    import os

    try:
        if os.getpgid(pid) != group:
            return False
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (ProcessLookupError, FileNotFoundError):
        return False


def test_missing_chromium_is_an_error_naming_the_fix(docker_client, shop, tmp_path):
    checks = config_module.from_dict({"checks": {"chromium": "/nonexistent/chromium", "baseline_image": "",
                                                 "baseline_store": str(tmp_path / "b"),
                                                 "visual": [{"name": "look"}]}}).checks
    [result] = run_against(docker_client, shop, page(), tmp_path, checks=checks)
    assert result.status == "error" and "apt-get install -y chromium" in result.detail


def test_pages_times_viewports_and_two_checks_share_one_browser(docker_client, shop, tmp_path):
    checks = config_module.from_dict({"checks": {"baseline_image": "{repository}:{target}", "visual": [
        {"name": "desktop", "pages": ["/", "/healthz"], "viewports": ["800x600", "375x667"], "ignore": [".ad"]},
        {"name": "strict", "pages": ["/"], "viewports": ["375x667"], "threshold": 0.0, "max_diff_ratio": 0.0,
         "fail_on_dom": True}]}}).checks
    desktop, strict = run_against(docker_client, shop, page(ad="another advert"), tmp_path, checks=checks,
                                  base_html=page())
    assert desktop.status == "passed", desktop.detail
    assert [(s.page, s.viewport) for s in desktop.shots] == [
        ("/", "800x600"), ("/", "375x667"), ("/healthz", "800x600"), ("/healthz", "375x667")]
    with Image.open(tmp_path / "reports" / desktop.shots[1].pr) as mobile:
        assert mobile.width == 375
    assert strict.status == "failed" and strict.shots[0].dom_changes == ("div.ad: 'Advert one' -> 'another advert'",)
