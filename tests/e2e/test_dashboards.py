"""The dashboards over the loaded database: queries agree with the tables, and the static page, rendered by
headless Chromium (Debian's `chromium`), draws four non-empty views (checked in the DOM and in the screenshot)."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from helpers import DB_SECRET
from PIL import Image

from c360 import dashboards

pytestmark = pytest.mark.e2e

VIEWS = ("view-spend", "view-rating", "view-sentiment", "view-profiles")
WINDOW = (1400, 3400)


def chromium() -> str:
    found = os.environ.get("C360_CHROMIUM") or next(
        (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
    assert found, "Chromium is needed for the dashboard test: apt-get install chromium (make setup does as root)"
    return found


def render(page: Path, png: Path) -> tuple[dict, str]:
    """Chromium's screenshot of the page, and what the page says it rendered (its data-rendered attribute)."""
    base = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--force-device-scale-factor=1", f"--window-size={WINDOW[0]},{WINDOW[1]}", "--virtual-time-budget=10000"]
    subprocess.run([*base, f"--screenshot={png}", page.as_uri()], check=True, capture_output=True, timeout=120)
    dom = subprocess.run([*base, "--dump-dom", page.as_uri()], check=True, capture_output=True, text=True,
                         timeout=120).stdout
    m = re.search(r'data-rendered="([^"]*)"', dom)
    assert m, "the page's script did not run (no data-rendered attribute)"
    return json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&")), dom


def colored_share(img: Image.Image, box: list[int]) -> float:
    """Share of the box's pixels that are clearly colored (bars, slices, the table header): not white or grey."""
    left, top, width, height = box
    region = img.crop((left, top, left + width, min(top + height, img.height))).convert("RGB")
    pixels = list(region.get_flattened_data())
    return sum(1 for r, g, b in pixels if max(r, g, b) - min(r, g, b) > 60) / max(1, len(pixels))


@pytest.fixture(scope="module")
def loaded(load_rds, spark, database, job_run, monkeypatch_module):
    from c360 import aws

    for k, v in aws.subprocess_env().items():
        monkeypatch_module.setenv(k, v)
    load_rds.run_load(spark, f"{job_run[1] / 'curated'}/", DB_SECRET)
    return database


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_queries_agree_with_the_tables(loaded):
    data = dashboards.fetch(dashboards.database_dsn(secret_id=DB_SECRET), top_profiles=20)
    with psycopg.connect(loaded) as conn:
        spend, golden, feedback = conn.execute(
            "SELECT (SELECT sum(total_spend) FROM customer360_golden), (SELECT count(*) FROM customer360_golden), "
            "(SELECT count(*) FROM feedback)").fetchone()
        top = conn.execute("SELECT customer_id FROM customer360_golden ORDER BY total_spend DESC, customer_id "
                           "LIMIT 20").fetchall()
        found = dashboards.search_profiles(conn, data.profiles[0]["full_name"][:4])
        by_source = dashboards.search_profiles(conn, conn.execute(
            "SELECT source_customer_ids[1] FROM customer360_golden LIMIT 1").fetchone()[0])
        nothing = dashboards.search_profiles(conn, "%' OR 1=1 --")
    f = data.frames
    assert data.golden_rows == golden > 1000
    assert sum(Decimal(str(x)) for x in f["spend_by_tier"]["spend"]) == spend
    assert int(f["rating_distribution"]["feedback"].sum()) == int(f["sentiment_overall"]["feedback"].sum()) == feedback
    assert list(f["rating_distribution"]["rating"]) == [1, 2, 3, 4, 5]
    assert [p["customer_id"] for p in data.profiles] == [r[0] for r in top]
    assert all(len(p["purchases"]) <= 5 and len(p["feedback"]) <= 5 for p in data.profiles)
    assert any(p["purchases"] for p in data.profiles)
    assert data.profiles[0]["customer_id"] in {p["customer_id"] for p in found}
    assert len(by_source) == 1 and nothing == []  # a LIKE pattern in the search text is just text


def test_the_static_page_draws_four_non_empty_views_in_chromium(loaded, tmp_path):
    data = dashboards.fetch(dashboards.database_dsn(secret_id=DB_SECRET))
    page = dashboards.write_html(data, tmp_path / "customer360.html")
    assert not re.search(r"<script[^>]*\ssrc=", page.read_text())  # no network: plotly.js is inlined
    rendered, _ = render(page, tmp_path / "shot.png")
    assert set(rendered) == set(VIEWS)
    for view in VIEWS:
        assert rendered[view]["traces"] > 0 and rendered[view]["points"] > 0, (view, rendered[view])
    assert rendered["view-spend"]["points"] >= 10 and rendered["view-sentiment"]["points"] >= 10
    img = Image.open(tmp_path / "shot.png")
    assert img.size == WINDOW
    for view in VIEWS:  # the pixels: each view's box holds drawn, colored marks, not just axes and white space
        box = rendered[view]["box"]
        assert box[1] + box[3] <= img.height, f"{view} is below the screenshot: enlarge WINDOW"
        assert colored_share(img, box) > 0.01, view


def test_names_and_comments_are_text_never_markup(loaded, tmp_path):
    data = dashboards.fetch(dashboards.database_dsn(secret_id=DB_SECRET), top_profiles=5)
    hostile = "</script><script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">"
    first = dict(data.profiles[0], full_name=hostile)
    page = dashboards.write_html(dataclasses.replace(data, profiles=[first, *data.profiles[1:]]),
                                 tmp_path / "hostile.html")
    rendered, dom = render(page, tmp_path / "hostile.png")
    assert "<title>Customer 360 dashboards</title>" in dom and "pwned" not in dom.split("<body")[0]
    assert rendered["view-profiles"]["traces"] == 1  # the page's own script still ran to the end
    assert "Profile: &lt;/script&gt;" in dom  # shown as text in the profile panel


def test_a_profile_says_why_its_records_are_one_customer_and_where_its_email_came_from(loaded):
    with psycopg.connect(loaded) as conn:
        cid, sources = conn.execute(
            "SELECT customer_id, source_customer_ids FROM customer360_golden "
            "WHERE cardinality(source_customer_ids) > 1 ORDER BY customer_id LIMIT 1").fetchone()
        profile = dashboards.search_profiles(conn, cid)[0]
        email_from = conn.execute("SELECT c.source_customer_id FROM customers c JOIN customer360_golden g "
                                  "ON g.customer_id = c.customer_id AND g.email = c.email WHERE g.customer_id = %s",
                                  (cid,)).fetchall()
    why = dashboards.why_merged(profile)
    # the links cover every source record: their connected component is the customer
    linked = {x for link in profile["links"] for x in (link["source_customer_id_a"], link["source_customer_id_b"])}
    assert linked == set(sources) and len(why) == len(profile["links"]) >= len(sources) - 1
    assert all("match key" in line for line in why)  # this run resolved identities with match keys only
    where = dashboards.where_from(profile, "email")
    assert profile["email"] in where and any(src in where for (src,) in email_from)
    assert {r["field"] for r in profile["provenance"]} >= {"full_name", "email", "signup_date"}
