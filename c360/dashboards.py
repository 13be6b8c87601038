"""The four dashboards over PostgreSQL: total spend, average rating, sentiment, customer profiles.

`fetch` runs the queries (psycopg, parameters always bound), `figures` draws them with plotly, `profiles` answers a
profile search, and `write_html` writes one static page (plotly.js inlined, no server, no network) that
`make dashboard` and 40_dashboards produce. The page's profile search runs in the browser over the embedded
profiles of the top customers by spend; the notebook's search queries the database.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

SENTIMENT_COLORS = {"positive": "#2e9d5b", "neutral": "#9aa3ad", "negative": "#d0473d"}

QUERIES = {
    "spend_by_month": """
        SELECT date_trunc('month', purchase_ts)::date AS month, sum(total_usd) AS spend, count(*) AS orders
        FROM purchases WHERE purchase_ts IS NOT NULL GROUP BY 1 ORDER BY 1""",
    "spend_by_category": """
        SELECT coalesce(i.category, '(none)') AS category,
               round(sum(i.quantity * i.unit_price * p.total_usd / nullif(p.total_amount, 0)), 2) AS spend
        FROM purchase_items i JOIN purchases p USING (purchase_id) GROUP BY 1 ORDER BY 2 DESC NULLS LAST""",
    "spend_by_tier": """
        SELECT coalesce(loyalty_tier, '(none)') AS tier, sum(total_spend) AS spend, count(*) AS customers
        FROM customer360_golden GROUP BY 1 ORDER BY 2 DESC""",
    "rating_overall": """
        SELECT round(avg(rating), 2) AS avg_rating, count(*) AS ratings FROM feedback""",
    "rating_distribution": """
        SELECT r.rating, count(f.rating) AS feedback
        FROM generate_series(1, 5) AS r(rating) LEFT JOIN feedback f ON f.rating = r.rating GROUP BY 1 ORDER BY 1""",
    "sentiment_overall": """
        SELECT sentiment_label AS sentiment, count(*) AS feedback FROM feedback GROUP BY 1 ORDER BY 1""",
    "sentiment_by_month": """
        SELECT date_trunc('month', feedback_date)::date AS month, sentiment_label AS sentiment, count(*) AS feedback
        FROM feedback WHERE feedback_date IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2""",
}

PROFILE_COLUMNS = ("customer_id", "full_name", "email", "phone", "city", "state", "country", "loyalty_tier",
                   "signup_date", "order_count", "total_spend", "avg_order_value", "last_purchase_at",
                   "top_category", "feedback_count", "avg_rating", "latest_sentiment", "dq_score")
PROFILE_SQL = f"SELECT {', '.join(PROFILE_COLUMNS)} FROM customer360_golden"
RECENT_PURCHASES = """
    SELECT customer_id, purchase_id, purchase_ts, total_usd, channel FROM (
        SELECT *, row_number() OVER (PARTITION BY customer_id ORDER BY purchase_ts DESC NULLS LAST, purchase_id) AS r
        FROM purchases WHERE customer_id = ANY(%(ids)s)) x WHERE r <= %(n)s ORDER BY customer_id, r"""
RECENT_FEEDBACK = """
    SELECT customer_id, feedback_id, feedback_date, rating, sentiment_label, comment FROM (
        SELECT *, row_number() OVER (PARTITION BY customer_id ORDER BY feedback_date DESC NULLS LAST, feedback_id)
               AS r FROM feedback WHERE customer_id = ANY(%(ids)s)) x WHERE r <= %(n)s ORDER BY customer_id, r"""

LINKS = """
    SELECT customer_id, source_customer_id_a, source_customer_id_b, linked_by, match_probability,
           match_weights::text AS match_weights,
           model_version, scored_run_id
    FROM identity_links WHERE customer_id = ANY(%(ids)s) ORDER BY customer_id, linked_by, source_customer_id_a,
    source_customer_id_b"""
PROVENANCE = """
    SELECT customer_id, field, value, source_customer_id, source_file, source_run_id
    FROM golden_provenance WHERE customer_id = ANY(%(ids)s) ORDER BY customer_id, field"""


DEFAULT_HTML = "data/dashboard/customer360.html"  # under the project root


class NoDatabase(RuntimeError):
    """The database cannot be found or reached: says what to run first."""


def database_dsn(settings=None, env: str = "c360-dev", secret_id: str | None = None) -> str:
    """The database's DSN from its Secrets Manager secret (00_provision's, unless `secret_id` names another)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from c360 import aws, config
    from c360.provision import outputs_path
    from c360.shipped import job_module

    settings = settings or config.settings()
    if not secret_id:
        out = outputs_path(settings, env)
        secret_id = json.loads(out.read_text()).get("secret_id") if out.is_file() else None
        secret_id = secret_id or f"{env}-rds-master"
    try:
        value = aws.client("secretsmanager", settings).get_secret_value(SecretId=secret_id)["SecretString"]
    except (BotoCoreError, ClientError) as e:
        hint = "start the stack and provision it (make demo)" if settings.is_local else "run 00_provision"
        raise NoDatabase(f"cannot read the database secret {secret_id!r} ({e}): {hint}") from e
    return job_module("load_rds").dsn_from_secret(value)


@dataclass
class DashboardData:
    frames: dict  # query name -> pandas DataFrame
    profiles: list[dict]  # golden fields + "purchases" + "feedback" (most recent first)
    golden_rows: int
    fetched_at: str


def _frame(conn, sql: str, params: dict | None = None):
    import pandas as pd

    cur = conn.execute(sql, params or {})
    return pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])


def _jsonable(value):
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)  # Decimal: exact text


def profiles(conn, where: str = "", params: dict | None = None, limit: int = 50, recent: int = 5) -> list[dict]:
    """Golden profiles (highest spend first) with their most recent purchases and feedback, the links that made
    their source records one customer (`links`) and where each golden value came from (`provenance`)."""
    params = dict(params or {}, limit=limit)
    rows = _frame(conn, f"{PROFILE_SQL} {where} ORDER BY total_spend DESC, customer_id LIMIT %(limit)s", params)
    found = [{c: _jsonable(v) for c, v in zip(rows.columns, r, strict=True)} for r in rows.itertuples(index=False)]
    ids = [p["customer_id"] for p in found]
    for name, sql in (("purchases", RECENT_PURCHASES), ("feedback", RECENT_FEEDBACK), ("links", LINKS),
                      ("provenance", PROVENANCE)):
        recent_rows = _frame(conn, sql, {"ids": ids, "n": recent})
        by_customer: dict[str, list] = {}
        for r in recent_rows.itertuples(index=False):
            by_customer.setdefault(r.customer_id, []).append(
                {c: _jsonable(v) for c, v in zip(recent_rows.columns[1:], r[1:], strict=True)})
        for p in found:
            p[name] = by_customer.get(p["customer_id"], [])
    return found


def why_merged(profile: dict) -> list[str]:
    """"Why are these records one customer?": a sentence per link between its source records, strongest
    evidence first (identity_links; the clusters are these links' connected components)."""
    if not profile.get("links"):
        return [f"{profile['customer_id']}: no link, its golden row has one source record."]
    out = []
    for link in profile.get("links", []):
        pair = f"{link['source_customer_id_a']} and {link['source_customer_id_b']}"
        if link["linked_by"] == "review":
            out.append(f"{pair}: a reviewer accepted them as one person (c360 identity review).")
            continue
        if link["linked_by"] != "model":
            out.append(f"{pair} share the same {link['linked_by']} (a match key).")
            continue
        weights = link["match_weights"]
        weights = json.loads(weights) if isinstance(weights, str) else weights or {}
        parts = ", ".join(f"{k} {v:+.1f}" for k, v in sorted(weights.items(), key=lambda kv: -kv[1]))
        out.append(f"{pair}: the model (version {link['model_version']}) gives match probability "
                   f"{link['match_probability']:.4f}; match weights {parts}.")
    return out


def where_from(profile: dict, field: str = "email") -> str:
    """"Where did this e-mail come from?": the source record, file and run that supplied a golden value."""
    for row in profile.get("provenance", []):
        if row["field"] == field:
            run = f", read by job run {row['source_run_id']}" if row.get("source_run_id") else ""
            return (f"{field} {row['value']!r} comes from source record {row['source_customer_id']} in "
                    f"{row['source_file']}{run}.")
    return f"{profile['customer_id']} has no {field}."


def search_profiles(conn, text: str, limit: int = 10) -> list[dict]:
    """Profiles whose name or e-mail starts with `text` (case-insensitive; the golden indexes serve it), or whose
    golden or source id is `text`."""
    prefix = text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    where = ("WHERE lower(full_name) LIKE %(p)s OR lower(email) LIKE %(p)s OR customer_id = %(t)s "
             "OR %(t)s = ANY(source_customer_ids)")
    return profiles(conn, where, {"p": prefix, "t": text.strip()}, limit=limit)


def fetch(dsn: str, top_profiles: int = 200) -> DashboardData:
    """Every query the four views need, in one read-only transaction (one consistent snapshot)."""
    import psycopg

    with psycopg.connect(dsn, connect_timeout=10, options="-c TimeZone=UTC") as conn:
        conn.read_only = True
        with conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            frames = {name: _frame(conn, sql) for name, sql in QUERIES.items()}
            golden_rows = conn.execute("SELECT count(*) FROM customer360_golden").fetchone()[0]
            top = profiles(conn, limit=top_profiles)
    return DashboardData(frames, top, golden_rows, datetime.now(UTC).isoformat(timespec="seconds"))


def figures(data: DashboardData) -> dict:
    """The four views as plotly figures: spend, rating, sentiment, profiles."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    f = data.frames
    spend = make_subplots(rows=1, cols=3, column_widths=[0.5, 0.3, 0.2],
                          subplot_titles=("by month (USD)", "by category (USD)", "by loyalty tier (USD)"))
    spend.add_bar(x=f["spend_by_month"]["month"].astype(str), y=f["spend_by_month"]["spend"].astype(float),
                  name="month", marker_color="#3b6fb6", row=1, col=1)
    spend.add_bar(x=f["spend_by_category"]["category"], y=f["spend_by_category"]["spend"].astype(float),
                  name="category", marker_color="#6a51a3", row=1, col=2)
    spend.add_bar(x=f["spend_by_tier"]["tier"], y=f["spend_by_tier"]["spend"].astype(float), name="tier",
                  marker_color="#e08a1e", row=1, col=3)
    total = float(f["spend_by_tier"]["spend"].astype(float).sum())
    spend.update_layout(title=f"Total spend: {total:,.2f} USD", showlegend=False)

    overall = f["rating_overall"].iloc[0]
    rating = make_subplots(rows=1, cols=2, specs=[[{"type": "indicator"}, {"type": "xy"}]], column_widths=[0.3, 0.7],
                           subplot_titles=("overall", "distribution"))
    rating.add_trace(go.Indicator(mode="number+gauge", value=float(overall["avg_rating"] or 0),
                                  number={"valueformat": ".2f"},
                                  gauge={"axis": {"range": [1, 5]}, "bar": {"color": "#3b6fb6"}}), row=1, col=1)
    rating.add_bar(x=f["rating_distribution"]["rating"].astype(str), y=f["rating_distribution"]["feedback"],
                   marker_color="#3b6fb6", row=1, col=2)
    rating.update_layout(title=f"Average rating: {float(overall['avg_rating'] or 0):.2f} "
                               f"over {int(overall['ratings']):,} ratings", showlegend=False)

    sentiment = make_subplots(rows=1, cols=2, specs=[[{"type": "domain"}, {"type": "xy"}]], column_widths=[0.3, 0.7],
                              subplot_titles=("overall", "over time (feedback per month)"))
    so = f["sentiment_overall"]
    sentiment.add_trace(go.Pie(labels=so["sentiment"], values=so["feedback"], sort=False, hole=0.4, showlegend=False,
                               marker={"colors": [SENTIMENT_COLORS.get(s, "#999") for s in so["sentiment"]]}),
                        row=1, col=1)
    by_month = f["sentiment_by_month"]
    for label, color in SENTIMENT_COLORS.items():
        part = by_month[by_month["sentiment"] == label]
        sentiment.add_bar(x=part["month"].astype(str), y=part["feedback"], name=label, marker_color=color,
                          row=1, col=2)
    sentiment.update_layout(title="Sentiment distribution", barmode="stack")

    shown = ("customer_id", "full_name", "email", "loyalty_tier", "order_count", "total_spend", "avg_rating",
             "latest_sentiment", "dq_score")
    table = go.Figure(go.Table(
        header={"values": list(shown), "fill_color": "#3b6fb6", "font": {"color": "white"}, "align": "left"},
        cells={"values": [[p[c] if p[c] is not None else "" for p in data.profiles] for c in shown],
               "align": "left"}))
    table.update_layout(title=f"Customer profiles: top {len(data.profiles):,} of {data.golden_rows:,} by spend")
    for fig in (spend, rating, sentiment, table):
        fig.update_layout(height=460, margin={"t": 80, "l": 40, "r": 20, "b": 60}, template="plotly_white")
    return {"spend": spend, "rating": rating, "sentiment": sentiment, "profiles": table}


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Customer 360 dashboards</title>
<style>
 body {{ font-family: system-ui, sans-serif; margin: 0; background: #f4f6f8; color: #1d2630; }}
 header {{ height: 64px; padding: 0 24px; display: flex; align-items: center; justify-content: space-between;
          background: #1d2630; color: white; }}
 header small {{ color: #b8c2cc; }}
 section.view {{ background: white; margin: 16px 24px; padding: 8px; border-radius: 6px; height: 480px; }}
 section.view.profiles {{ height: auto; }}
 #profile-search {{ font-size: 15px; padding: 6px 10px; width: 360px; margin: 8px; }}
 #profile-detail table {{ border-collapse: collapse; margin: 6px 8px 12px; font-size: 13px; }}
 #profile-detail td, #profile-detail th {{ border-bottom: 1px solid #e3e7eb; padding: 3px 10px; text-align: left; }}
 #profile-detail h3 {{ margin: 10px 8px 4px; }}
</style>
<script>{plotly_js}</script>
</head><body>
<header><strong>Customer 360 dashboards</strong>
<small>{golden_rows:,} golden customers · read from PostgreSQL at {fetched_at}</small></header>
<section class="view" id="view-spend">{spend}</section>
<section class="view" id="view-rating">{rating}</section>
<section class="view" id="view-sentiment">{sentiment}</section>
<section class="view profiles" id="view-profiles">
<input id="profile-search" type="search" placeholder="Search a customer: name, e-mail or id" autocomplete="off">
<div style="height:480px">{profiles}</div>
<div id="profile-detail"></div>
</section>
<script id="profile-data" type="application/json">{profile_json}</script>
<script>
(function () {{
  const profiles = JSON.parse(document.getElementById("profile-data").textContent);
  const shown = {shown_json};
  const tableDiv = document.querySelector("#view-profiles .plotly-graph-div");
  const detail = document.getElementById("profile-detail");
  function cell(row, tag, text) {{
    const c = document.createElement(tag); c.textContent = text ?? ""; row.appendChild(c);
  }}
  function table(title, rows, cols) {{
    const h = document.createElement("h3"); h.textContent = title; detail.appendChild(h);
    const t = document.createElement("table"); const head = t.insertRow(); cols.forEach(c => cell(head, "th", c));
    rows.forEach(r => {{ const tr = t.insertRow(); cols.forEach(c => cell(tr, "td", r[c])); }});
    detail.appendChild(t);
  }}
  function show(p) {{
    detail.replaceChildren();  // text only (textContent): names and comments are data, never markup
    if (!p) {{
      const m = document.createElement("p"); m.textContent = "No customer matches."; detail.appendChild(m); return;
    }}
    table("Profile: " + (p.full_name || p.customer_id), [p], {profile_cols_json});
    table("Recent purchases", p.purchases, ["purchase_id", "purchase_ts", "total_usd", "channel"]);
    table("Recent feedback", p.feedback, ["feedback_id", "feedback_date", "rating", "sentiment_label", "comment"]);
    table("Why these records are one customer", p.links || [], ["source_customer_id_a", "source_customer_id_b",
      "linked_by", "match_probability", "match_weights"]);
    table("Where each value came from", p.provenance || [], ["field", "value", "source_customer_id", "source_file",
      "source_run_id"]);
  }}
  function search(text) {{
    const q = text.trim().toLowerCase();
    const hits = profiles.filter(p => !q || (p.full_name || "").toLowerCase().includes(q)
      || (p.email || "").toLowerCase().includes(q) || p.customer_id.toLowerCase() === q);
    if (window.Plotly && tableDiv) {{
      Plotly.restyle(tableDiv, {{"cells.values": [shown.map(c => hits.map(p => p[c] ?? ""))]}});
    }}
    show(hits[0]);
  }}
  document.getElementById("profile-search").addEventListener("input", e => search(e.target.value));
  search("");
  // what rendered, for headless checks: per view, its box on the page, traces, and data points drawn
  const views = {{}};
  document.querySelectorAll("section.view").forEach(s => {{
    const gd = s.querySelector(".plotly-graph-div"), box = s.getBoundingClientRect();
    const calc = gd && gd.calcdata ? gd.calcdata : [];
    views[s.id] = {{traces: calc.length, points: calc.reduce((n, cd) => n + (cd ? cd.length : 0), 0),
                   box: [Math.round(box.left), Math.round(box.top + window.scrollY), Math.round(box.width),
                         Math.round(box.height)]}};
  }});
  document.body.setAttribute("data-rendered", JSON.stringify(views));
}})();
</script>
</body></html>
"""


def write_html(data: DashboardData, path: Path) -> Path:
    """One self-contained page: opens from disk, no server and no network (plotly.js is inlined)."""
    from plotly.offline import get_plotlyjs

    figs = figures(data)
    parts = {name: fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"chart-{name}",
                               config={"displaylogo": False, "responsive": True})
             for name, fig in figs.items()}
    shown = ["customer_id", "full_name", "email", "loyalty_tier", "order_count", "total_spend", "avg_rating",
             "latest_sentiment", "dq_score"]
    # JSON inside <script>: "</" would close the element, so escape it (and keep the text valid JSON)
    profile_json = json.dumps(data.profiles).replace("</", "<\\/")
    page = PAGE.format(plotly_js=get_plotlyjs(), golden_rows=data.golden_rows, fetched_at=html.escape(data.fetched_at),
                       profile_json=profile_json, shown_json=json.dumps(shown),
                       profile_cols_json=json.dumps(list(PROFILE_COLUMNS)), **parts)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
