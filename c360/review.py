"""`c360 identity review`: the review queue of probabilistic identity matching.

The job scores candidate pairs of customer records; pairs from `--review_threshold` up to `--match_threshold` are
neither linked nor dropped: they wait here for a person. `queue` lists them from the database (identity_review: a
row per current record of each pair; a pair waits while both its records are current and in two golden customers),
beside both records' fields. `decide` stores a decision as one S3 object per pair under `review/decisions/` in the
data lake bucket (a later decision on the same pair replaces it; nothing is read-modified-written, so two reviewers
cannot lose each other's work). The job's next run reads every decision (a change of decisions makes it a full
refresh): an accepted pair is one customer from then on, whatever the model says, and a rejected pair is never
scored, hence never linked by the model, again.
"""

from __future__ import annotations

import getpass
import hashlib
import json
from datetime import UTC, datetime

from c360 import aws, config

DECISIONS_PREFIX = "review/decisions/"  # under the data lake bucket: the job's --decisions_root default
DECISIONS = ("accept", "reject")
SHOWN = ("first_name", "last_name", "email", "phone", "date_of_birth", "street", "city", "postal_code")

QUEUE = f"""
    SELECT x.pair_id, x.source_customer_id AS a, y.source_customer_id AS b, x.customer_id AS customer_a,
           y.customer_id AS customer_b, x.match_probability, x.match_weights::text AS match_weights,
           x.model_version, x.scored_run_id,
           {", ".join(f"ca.{c}::text AS a_{c}, cb.{c}::text AS b_{c}" for c in SHOWN)}
    FROM identity_review x
    JOIN identity_review y ON y.pair_id = x.pair_id AND x.source_customer_id < y.source_customer_id
    LEFT JOIN customers ca ON ca.source_customer_id = x.source_customer_id
    LEFT JOIN customers cb ON cb.source_customer_id = y.source_customer_id
    WHERE x.customer_id <> y.customer_id
    ORDER BY x.match_probability DESC, a, b"""


def decision_key(a: str, b: str) -> str:
    """The S3 key of a pair's decision: one object per pair (source ids in either order)."""
    lo, hi = sorted((a, b))
    return DECISIONS_PREFIX + hashlib.sha256(f"{lo}\n{hi}".encode()).hexdigest()[:32] + ".json"


def decisions(bucket: str, settings: config.Settings | None = None) -> dict[tuple[str, str], dict]:
    """Every stored decision: (a, b) with a < b -> the decision's object."""
    s3 = aws.client("s3", settings or config.settings())
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=DECISIONS_PREFIX):
        for item in page.get("Contents", []):
            doc = json.loads(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
            out[(doc["a"], doc["b"])] = doc
    return out


def queue(dsn: str, decided: dict | None = None, limit: int | None = None) -> list[dict]:
    """The pairs waiting for review, likeliest first, each with both records' fields (a_<field>, b_<field>);
    pairs in `decided` (decisions the job has not applied yet) left out."""
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(dsn, connect_timeout=10, row_factory=dict_row) as conn:
        rows = conn.execute(QUEUE).fetchall()
    rows = [r for r in rows if (r["a"], r["b"]) not in (decided or {})]
    return rows[:limit] if limit is not None else rows


def decide(bucket: str, a: str, b: str, decision: str, reviewer: str | None = None, pair: dict | None = None,
           settings: config.Settings | None = None) -> dict:
    """Store a reviewer's decision on the pair of source customer ids (a, b): `accept` (one person) or `reject`
    (never linked by the model again). `pair`: the queue's row, whose score and model version are kept with it."""
    if decision not in DECISIONS:
        raise ValueError(f"a decision is one of {DECISIONS}, not {decision!r}")
    a, b = a.strip(), b.strip()
    if not a or not b or a == b:
        raise ValueError(f"a decision needs two different source customer ids, not {a!r} and {b!r}")
    lo, hi = sorted((a, b))
    doc = {"a": lo, "b": hi, "decision": decision, "reviewer": reviewer or getpass.getuser(),
           "decided_at": datetime.now(UTC).isoformat(timespec="seconds")}
    if pair:
        doc.update(match_probability=pair.get("match_probability"), model_version=pair.get("model_version"))
    aws.client("s3", settings or config.settings()).put_object(
        Bucket=bucket, Key=decision_key(lo, hi), Body=json.dumps(doc).encode(), ContentType="application/json")
    return doc


def describe(pair: dict) -> str:
    """A queued pair as text: the score, each comparison's weight, the two records side by side."""
    weights = json.loads(pair["match_weights"]) if pair.get("match_weights") else {}
    lines = [f"{pair['a']}  vs  {pair['b']}: match probability {pair['match_probability']:.4f} "
             f"(model {pair['model_version']}, scored by run {pair['scored_run_id'] or '-'})",
             "  weights: " + ", ".join(f"{k} {v:+.1f}" for k, v in sorted(weights.items(), key=lambda kv: -kv[1]))]
    for field in SHOWN:
        x, y = pair.get(f"a_{field}") or "", pair.get(f"b_{field}") or ""
        lines.append(f"  {field:14s} {x:32s} {'==' if x == y and x else '  '} {y}")
    return "\n".join(lines)
