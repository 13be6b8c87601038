"""Synthetic Customer 360 sources: customers XML, purchases JSON / JSON Lines, feedback CSV.

Deterministic for a seed (byte-identical files), streaming (memory does not grow with the sizes), and
honest about what it injects: `manifest.json` counts every defect per file, `injected.csv` lists each
injected record, `ground_truth.csv` maps every source customer id to its person.

How records are chosen without remembering them: every key fact (which person a purchase belongs to,
which source id it names, whether it carries a defect, its timestamp) is a pure function of
(seed, stream, index) (`hashing.h64`), so feedback can name a clean purchase of the same customer,
and a purchase can name one of a duplicated person's ids, by recomputing instead of storing.

Defects follow the data-quality rules of schemas/README.md: each defective record carries exactly one defect, so
a file's DQ error count is the number of its defective records. Customer defects and updates touch
only persons who have a single source id, so the identity ground truth stays unambiguous.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from nicknames import NickNamer
from tqdm import tqdm

from c360.datagen import badfiles, pools
from c360.datagen.hashing import Permutation, h64, source_id, unit
from c360.datagen.output import CsvSink, JsonRecordsSink, OutFile, write_bytes

GENERATOR_VERSION = "1"
FEEDBACK_HEADER = ("feedback_id", "customer_id", "purchase_id", "feedback_date", "rating", "channel", "comment")

# Streams of the counter-based randomness (any distinct integers).
S_PERSON, S_LOCALE, S_DUP, S_CDEF, S_CDEFK, S_CEXACT, S_CUPD, S_VARIANT = 1, 2, 3, 4, 5, 6, 7, 8
S_PKEY, S_PDEF, S_PDEFK, S_PTS, S_FDEF, S_FDEFK, S_FLINK, S_FPICK, S_SEQ = 11, 12, 13, 14, 21, 22, 23, 24, 30

CUSTOMER_DEFECTS = ("invalid_email", "invalid_phone", "future_signup_date", "future_date_of_birth")
PURCHASE_DEFECTS = ("unknown_customer", "total_mismatch", "conflicting_duplicate_id", "future_purchase_ts")
FEEDBACK_DEFECTS = ("unknown_customer", "conflicting_duplicate_id", "unknown_purchase", "purchase_of_other_customer",
                    "future_feedback_date")
# What the Glue job's rules do with each defect (schemas/README.md): reject keeps the record out, flag nulls a value.
RULE_OF = {
    "invalid_email": "flag", "invalid_phone": "flag", "future_signup_date": "flag", "future_date_of_birth": "flag",
    "unknown_customer": "reject", "total_mismatch": "reject", "conflicting_duplicate_id": "reject",
    "future_purchase_ts": "flag", "unknown_purchase": "flag", "purchase_of_other_customer": "flag",
    "future_feedback_date": "flag",
    # Not errors: collapsed, superseded, or inside the 0.01 tolerance.
    "exact_duplicate": "collapse", "superseded_version": "supersede", "total_off_by_one_cent": "none",
}
PERTURBATIONS = ("email_case", "email_spaces", "phone_format", "name_typo", "new_email")
# identity_noise="realistic": what real duplicates across systems look like; most of them share no e-mail and no
# phone, so only probabilistic matching finds them (issue 16).
REALISTIC_PERTURBATIONS = ("nickname", "keyboard_typo", "swapped_names", "transposed_date", "date_typo",
                           "missing_fields", "new_email_no_phone", "email_typo", "moved")
IDENTITY_NOISE = ("light", "realistic")
# QWERTY neighbours: a keyboard-distance typo replaces a letter with one of these, or inserts one beside it
_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_NEIGHBOURS = {c: "".join(r2[j] for r2 in _KEYBOARD_ROWS[max(0, i - 1):i + 2] for j in (k - 1, k, k + 1)
                          if 0 <= j < len(r2) and r2[j] != c)
               for i, row in enumerate(_KEYBOARD_ROWS) for k, c in enumerate(row)}
_DOB_FIRST = date(1945, 1, 1)
_DOB_SPAN = (date(2007, 12, 31) - _DOB_FIRST).days
_BOOLEANS = ("true", "false", "true", "false", "1", "0")  # xs:boolean has both spellings
NICKNAMES = NickNamer()  # the `nicknames` package's hand-curated English names and their nicknames
FUTURE_YEARS = 60  # future-dated defects lie this far past as_of: still future for decades of runs


@dataclass(frozen=True)
class Params:
    seed: int = 42
    customers: int = 1_000  # source customer records in the base files (all distinct ids)
    purchases: int = 5_000  # distinct purchase ids
    feedback: int = 1_000  # distinct feedback ids
    files: int = 2  # base files per dataset
    duplicate_person_rate: float = 0.08  # persons who also appear under one or two more source ids
    defect_rate: float = 0.03  # records with one record-level DQ defect
    exact_duplicate_rate: float = 0.01  # records repeated byte for byte
    update_rate: float = 0.02  # customers re-sent with a newer version in the updates file
    identity_noise: str = "light"  # how a duplicated person's other records differ: light | realistic
    bad_files: int = 3  # whole invalid files per dataset (kinds taken in turn)
    as_of: str = "2026-06-30"  # the last business date in the data
    history_start: str = "2023-01-01"  # first purchase date

    def validate(self) -> None:
        for name in ("customers", "purchases", "feedback", "bad_files"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if self.files < 1:
            raise ValueError("files must be >= 1")
        if self.identity_noise not in IDENTITY_NOISE:
            raise ValueError(f"identity_noise is one of {', '.join(IDENTITY_NOISE)}, not {self.identity_noise!r}")
        for name in ("duplicate_person_rate", "defect_rate", "exact_duplicate_rate", "update_rate"):
            if not 0 <= getattr(self, name) <= 0.5:
                raise ValueError(f"{name} must be between 0 and 0.5")
        if self.customers == 0 and (self.purchases or self.feedback):
            raise ValueError("purchases and feedback need customers to refer to")
        if date.fromisoformat(self.history_start) >= date.fromisoformat(self.as_of):
            raise ValueError("history_start must be before as_of")


@dataclass
class FileStats:
    path: str
    dataset: str
    format: str
    role: str  # base | updates | bad
    encoding: str = "utf-8"
    line_ending: str = "\n"
    bom: bool = False
    records: int = 0  # records in the file, duplicates included
    exact_duplicates: int = 0
    superseded: int = 0  # records that a later file replaces with a newer version
    defects: Counter = field(default_factory=Counter)
    error_records: int = 0  # records failing any DQ rule (schemas/README.md: a file's error_count)
    bad_kind: str | None = None
    bytes: int = 0
    sha256: str = ""

    def add_defect(self, kind: str, n: int = 1) -> None:
        """Count an injected record; only reject and flag kinds are DQ errors."""
        self.defects[kind] += n
        if kind == "exact_duplicate":
            self.exact_duplicates += n
        elif kind == "superseded_version":
            self.superseded += n
        if RULE_OF[kind] in ("reject", "flag"):
            self.error_records += n

    def as_dict(self) -> dict:
        d = asdict(self)
        d["defects"] = dict(sorted(self.defects.items()))
        d["line_ending"] = {"\n": "LF", "\r\n": "CRLF"}[self.line_ending]
        if self.role != "bad":
            d.pop("bad_kind")
        return d


def _days(a: date, b: date) -> int:
    return (b - a).days


class Generator:
    def __init__(self, params: Params, out: Path, progress: bool = True):
        params.validate()
        self.p = params
        self.out = out
        self.seed = params.seed
        self.as_of = date.fromisoformat(params.as_of)
        self.start = date.fromisoformat(params.history_start)
        # purchase timestamps fall in [history_start, as_of): fixed per run, used for every purchase
        self.history_epoch = int(datetime(self.start.year, self.start.month, self.start.day, tzinfo=UTC).timestamp())
        self.history_seconds = _days(self.start, self.as_of) * 86400
        self.pools = pools.build_pools(params.seed)
        self.files: list[FileStats] = []
        self.progress = progress
        self._layout_people()

    # ------------------------------------------------------------------ people and their source ids
    def _layout_people(self) -> None:
        n, r = self.p.customers, self.p.duplicate_person_rate
        persons = round(n / (1 + r * 1.25)) if n else 0
        dup = min(round(persons * r), persons)
        dup2 = n - persons - dup
        if dup2 > dup:  # tiny sizes: move records back to single persons
            persons += dup2 - dup
            dup2 = dup
        if dup2 < 0:
            dup += dup2
            dup2 = 0
        self.P, self.D1, self.D2 = persons, dup, dup2
        self.dup_perm = Permutation(persons, self.seed, S_DUP)
        self.shift = (persons // 2 + 1, persons // 3 + 2)

    def n_variants(self, person: int) -> int:
        rank = self.dup_perm(person)
        return 2 if rank < self.D2 else 1 if rank < self.D1 else 0

    def locale(self, person: int) -> str:
        u = unit(self.seed, S_LOCALE, person)
        for code, cum in zip(pools.LOCALE_ORDER, pools.LOCALE_CUMULATIVE, strict=True):
            if u < cum:
                return code
        return pools.LOCALE_ORDER[-1]

    def customer_defect(self, person: int) -> str | None:
        if self.n_variants(person) or unit(self.seed, S_CDEF, person) >= self.p.defect_rate:
            return None
        return CUSTOMER_DEFECTS[h64(self.seed, S_CDEFK, person) % len(CUSTOMER_DEFECTS)]

    def customer_exact_dup(self, person: int) -> bool:
        return (not self.n_variants(person) and self.customer_defect(person) is None
                and unit(self.seed, S_CEXACT, person) < self.p.exact_duplicate_rate)

    def customer_updated(self, person: int) -> bool:
        return (not self.n_variants(person) and self.customer_defect(person) is None
                and not self.customer_exact_dup(person) and unit(self.seed, S_CUPD, person) < self.p.update_rate)

    def unknown_customer_id(self, i: int) -> str:
        return source_id(0, self.P + i, self.seed)  # the id space beyond the last person is never assigned

    def person(self, person: int) -> dict:
        """The person's true attributes (what their primary source record says when clean)."""
        rng = random.Random(h64(self.seed, S_PERSON, person))
        code = self.locale(person)
        pool = self.pools[code]
        g = rng.random()
        gender = "F" if g < 0.48 else "M" if g < 0.96 else "X" if g < 0.98 else "U"
        names = pool.first_female if gender == "F" else pool.first_male if gender == "M" else (
            pool.first_female if rng.random() < 0.5 else pool.first_male)
        first, last = rng.choice(names), rng.choice(pool.last)
        fa, la = pools.ascii_fold(first) or "user", pools.ascii_fold(last) or "x"
        pattern = rng.randrange(4)
        local = (f"{fa}.{la}{person}", f"{fa}{person}", f"{fa[0]}.{la}{person}", f"{fa}_{la}{person}")[pattern]
        rec = {
            "id": source_id(0, person, self.seed), "person": person, "locale": code,
            "first_name": first, "last_name": last, "email": f"{local}@{rng.choice(pools.EMAIL_DOMAINS)}",
            "phone_number": rng.choice(pool.phones) if rng.random() < 0.85 else None,
            "phone_format": rng.randrange(6),
            "date_of_birth": _DOB_FIRST + timedelta(days=rng.randrange(_DOB_SPAN)) if rng.random() < 0.85 else None,
            "gender": gender if rng.random() < 0.9 else None,
            "signup_date": date(2015, 1, 1) + timedelta(days=rng.randrange(_days(date(2015, 1, 1), self.as_of))),
            "loyalty_tier": pools.pick_weighted(rng.random(), pools.LOYALTY_TIERS) if rng.random() < 0.8 else None,
            "marketing_opt_in": rng.choice(_BOOLEANS) if rng.random() < 0.85 else None,
        }
        if rng.random() < 0.9:
            city, state, postcode = rng.choice(pool.places)
            rec["address"] = {
                "street": rng.choice(pool.streets) if rng.random() < 0.95 else None,
                "city": city if rng.random() < 0.98 else None,
                "state": state if state and rng.random() < 0.9 else None,
                "postal_code": postcode if rng.random() < 0.95 else None,
                "country": pool.country,
            }
        else:
            rec["address"] = None
        rec["shuffle"] = rng.random() < 0.1
        return rec

    @staticmethod
    def _phone_text(rec: dict, fmt: int) -> str | None:
        options = rec["phone_number"]
        return None if options is None else options[fmt % len(options)]

    def variant(self, person: int, k: int) -> tuple[dict, list[str]]:
        """Person's record in source system k (1 = WEB, 2 = POS): same person, messier fields."""
        rec = self.person(person)
        rng = random.Random(h64(self.seed, S_VARIANT, person * 4 + k))
        rec["id"] = source_id(k, person, self.seed)
        if self.p.identity_noise == "realistic":
            return self._realistic_variant(rec, person, rng)
        choices = [x for x in PERTURBATIONS if x != "phone_format" or rec["phone_number"] is not None]
        if rec["phone_number"] is None or rec["date_of_birth"] is None:
            choices.remove("new_email")
        picked = rng.sample(choices, 2 if rng.random() < 0.4 else 1)
        if "new_email" in picked and "name_typo" in picked:
            picked.remove("name_typo")
        for what in picked:
            if what == "email_case":
                rec["email"] = rec["email"].upper() if rng.random() < 0.5 else rec["email"].title()
            elif what == "email_spaces":
                rec["email"] = " " * rng.randrange(1, 3) + rec["email"] + " " * rng.randrange(0, 2)
            elif what == "phone_format":
                rec["phone_format"] += 1 + rng.randrange(2)
            elif what == "name_typo":
                key = "first_name" if rng.random() < 0.5 else "last_name"
                rec[key] = _typo(rec[key], rng)
            elif what == "new_email":
                fa, la = pools.ascii_fold(rec["first_name"]) or "user", pools.ascii_fold(rec["last_name"]) or "x"
                rec["email"] = f"{fa}.{la}.{person}@{rng.choice(pools.WORK_DOMAINS)}"
        rec["signup_date"] = date(2015, 1, 1) + timedelta(days=rng.randrange(_days(date(2015, 1, 1), self.as_of)))
        if rng.random() < 0.5:
            rec["loyalty_tier"] = None
        return rec, sorted(picked)

    def _realistic_variant(self, rec: dict, person: int, rng: random.Random) -> tuple[dict, list[str]]:
        """Two or three of REALISTIC_PERTURBATIONS; half of the records change e-mail and lose the phone."""
        choices = list(REALISTIC_PERTURBATIONS)
        if rec["date_of_birth"] is None:
            choices = [c for c in choices if c not in ("transposed_date", "date_typo")]
        if not NICKNAMES.nicknames_of(rec["first_name"]):
            choices.remove("nickname")
        picked = set(rng.sample(choices, 2 if rng.random() < 0.6 else 3))
        if rng.random() < 0.5:
            picked.add("new_email_no_phone")
        if "transposed_date" in picked and "date_typo" in picked:
            picked.discard("date_typo")
        if "new_email_no_phone" in picked:
            picked.discard("email_typo")
        for what in (w for w in REALISTIC_PERTURBATIONS if w in picked):  # in this order: a nickname of the name
            if what == "keyboard_typo":
                key = "first_name" if rng.random() < 0.5 else "last_name"
                rec[key] = _keyboard_typo(rec[key], rng)
            elif what == "nickname":
                nick = rng.choice(sorted(NICKNAMES.nicknames_of(rec["first_name"])))
                rec["first_name"] = nick.title()
            elif what == "swapped_names":
                rec["first_name"], rec["last_name"] = rec["last_name"], rec["first_name"]
            elif what == "transposed_date":
                d = rec["date_of_birth"]
                if d.day <= 12 and d.day != d.month:
                    rec["date_of_birth"] = date(d.year, d.day, d.month)
                else:  # not transposable: a mistyped year digit instead
                    rec["date_of_birth"] = d.replace(year=d.year + rng.choice((-10, -1, 1, 10)) if d.year < 1995
                                                     else d.year - rng.choice((1, 10)), day=min(d.day, 28))
            elif what == "date_typo":  # one digit of the day off
                d = rec["date_of_birth"]
                rec["date_of_birth"] = d.replace(day=min(28, max(1, d.day + rng.choice((-10, -1, 1, 10)))))
            elif what == "missing_fields":
                for f in rng.sample(("phone_number", "date_of_birth", "address", "gender"), rng.randrange(1, 3)):
                    rec[f] = None
            elif what == "new_email_no_phone":
                fa = pools.ascii_fold(rec["first_name"]) or "user"
                rec["email"] = f"{fa}{rng.randrange(10, 100)}{person % 997}@{rng.choice(pools.EMAIL_DOMAINS)}"
                rec["phone_number"] = None
            elif what == "email_typo":
                user, domain = rec["email"].split("@")
                rec["email"] = _keyboard_typo(user, rng) + "@" + domain
            elif what == "moved":
                city, state, postcode = rng.choice(self.pools[rec["locale"]].places)
                rec["address"] = {"street": rng.choice(self.pools[rec["locale"]].streets), "city": city,
                                  "state": state, "postal_code": postcode,
                                  "country": self.pools[rec["locale"]].country}
        rec["signup_date"] = date(2015, 1, 1) + timedelta(days=rng.randrange(_days(date(2015, 1, 1), self.as_of)))
        if rng.random() < 0.5:
            rec["loyalty_tier"] = None
        return rec, sorted(picked)

    def updated(self, person: int) -> dict:
        """A newer version of a person's primary record: moved house and/or changed tier."""
        rec = self.person(person)
        rng = random.Random(h64(self.seed, S_CUPD, person + 1))
        pool = self.pools[rec["locale"]]
        city, state, postcode = rng.choice(pool.places)
        rec["address"] = {"street": rng.choice(pool.streets), "city": city, "state": state,
                          "postal_code": postcode, "country": pool.country}
        tiers = [t for t, _ in pools.LOYALTY_TIERS if t != rec["loyalty_tier"]]
        rec["loyalty_tier"] = rng.choice(tiers)
        return rec

    def customer_xml(self, rec: dict, defect: str | None, rng: random.Random) -> str:
        email, phone = rec["email"], self._phone_text(rec, rec["phone_format"])
        dob, signup = rec["date_of_birth"], rec["signup_date"]
        if defect == "invalid_email":
            user, domain = email.split("@")
            email = rng.choice(pools.BAD_EMAILS).format(u=user, d=domain)
        elif defect == "invalid_phone":
            phone = rng.choice(pools.BAD_PHONES)
        elif defect == "future_signup_date":
            signup = self.as_of + timedelta(days=365 * FUTURE_YEARS + rng.randrange(3650))
        elif defect == "future_date_of_birth":
            dob = self.as_of + timedelta(days=365 * FUTURE_YEARS + rng.randrange(3650))
        parts = [
            f"<first_name>{escape(rec['first_name'])}</first_name>",
            f"<last_name>{escape(rec['last_name'])}</last_name>",
            f"<email>{escape(email)}</email>",
        ]
        if phone is not None:
            parts.append(f"<phone>{escape(phone)}</phone>")
        if dob is not None:
            parts.append(f"<date_of_birth>{dob.isoformat()}</date_of_birth>")
        if rec["gender"]:
            parts.append(f"<gender>{rec['gender']}</gender>")
        addr = rec["address"]
        if addr is not None:
            inner = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in addr.items() if v is not None)
            parts.append(f"<address>{inner}</address>")
        parts.append(f"<signup_date>{signup.isoformat()}</signup_date>")
        if rec["loyalty_tier"]:
            parts.append(f"<loyalty_tier>{rec['loyalty_tier']}</loyalty_tier>")
        if rec["marketing_opt_in"] is not None:
            parts.append(f"<marketing_opt_in>{rec['marketing_opt_in']}</marketing_opt_in>")
        if rec["shuffle"]:  # the contract allows any child order
            random.Random(rec["person"]).shuffle(parts)
        return f"  <customer id={quoteattr(rec['id'])}>\n    " + "\n    ".join(parts) + "\n  </customer>\n"

    # ------------------------------------------------------------------ purchases (pure key facts)
    def purchase_key(self, i: int) -> tuple[int, int, str | None, int]:
        """(person, source system, defect or marker, UTC epoch seconds) of purchase i."""
        u = h64(self.seed, S_PKEY, i)
        person = u % self.P
        system = (u >> 40) % (self.n_variants(person) + 1)
        d, p = unit(self.seed, S_PDEF, i), self.p
        if d < p.defect_rate:
            kind = PURCHASE_DEFECTS[h64(self.seed, S_PDEFK, i) % len(PURCHASE_DEFECTS)]
        elif d < p.defect_rate + p.exact_duplicate_rate:
            kind = "exact_duplicate"
        elif d < p.defect_rate + p.exact_duplicate_rate + 0.005:
            kind = "total_off_by_one_cent"
        else:
            kind = None
        return person, system, kind, self.history_epoch + h64(self.seed, S_PTS, i) % self.history_seconds

    @staticmethod
    def purchase_id(i: int) -> str:
        return f"PUR-{i + 1:09d}"

    def clean_purchase(self, start: int) -> int | None:
        """The first purchase from `start` on that lands in the curated tables (found by recomputing)."""
        n = self.p.purchases
        for step in range(n):
            i = (start + step) % n
            if self.purchase_key(i)[2] in (None, "exact_duplicate", "total_off_by_one_cent"):
                return i
        return None

    # ------------------------------------------------------------------ files
    def _path(self, dataset: str, name: str) -> Path:
        return self.out / "raw" / dataset / name

    def _rel(self, path: Path) -> str:
        return path.relative_to(self.out).as_posix()

    def _split(self, total: int) -> list[int]:
        f = self.p.files
        return [(k + 1) * total // f - k * total // f for k in range(f)]

    def run(self) -> dict:
        total = self.p.customers + self.p.purchases + self.p.feedback
        with tqdm(total=total, unit="rec", unit_scale=True, disable=not self.progress, desc="generate") as bar:
            self.bar = bar
            with open(self.out / "injected.csv", "w", encoding="utf-8", newline="") as inj, \
                    open(self.out / "ground_truth.csv", "w", encoding="utf-8", newline="") as gt:
                self.injected = CsvSink(inj, "\n")
                self.injected.row(("file", "dataset", "record_id", "defect", "rule"))
                self.truth = CsvSink(gt, "\n")
                self.truth.row(("source_customer_id", "person_id"))
                self.perturbations: Counter = Counter()
                self._customers()
                self._purchases()
                self._feedback()
            bar.update(getattr(self, "_ticks", 0))
            self._bad_files()
        return self._manifest()

    def _inject(self, fs: FileStats, record_id: str, kind: str) -> None:
        self.injected.row((fs.path, fs.dataset, record_id, kind, RULE_OF[kind]))

    def _tick(self, n: int) -> None:
        self._ticks = getattr(self, "_ticks", 0) + n
        if self._ticks >= 2000:
            self.bar.update(self._ticks)
            self._ticks = 0

    def _customers(self) -> None:
        rng = random.Random(h64(self.seed, S_SEQ, 1))
        sizes = self._split(self.p.customers)
        updates_name = f"customers_{len(sizes) + 1:04d}_updates.xml"
        updates_rel = f"raw/customer_details/{updates_name}"
        emitted, file_index = 0, 0
        fs = out = None
        limit = 0
        pending_updates = 0

        def open_next():
            nonlocal fs, out, limit, file_index
            file_index += 1
            # The second file is declared ISO-8859-1: the Lambda must normalise it to UTF-8.
            enc = "iso-8859-1" if file_index == 2 else "utf-8"
            path = self._path("customer_details", f"customers_{file_index:04d}.xml")
            fs = FileStats(self._rel(path), "customer_details", "xml", "base", encoding=enc)
            out = OutFile(path, enc)
            out.write(f'<?xml version="1.0" encoding="{enc.upper()}"?>\n<customers>\n')
            limit += sizes[file_index - 1]

        def close_current():
            out.write("</customers>\n")
            fs.__dict__.update(out.close())
            self.files.append(fs)

        def emit(rec: dict, defect: str | None = None) -> str:
            nonlocal emitted
            while emitted >= limit and file_index < len(sizes):
                close_current()
                open_next()
            xml = self.customer_xml(rec, defect, rng)
            out.write(xml)
            fs.records += 1
            emitted += 1
            self.truth.row((rec["id"], f"PERSON-{rec['person']:08d}"))
            self._tick(1)
            return xml

        open_next()
        for q in range(self.P):
            defect = self.customer_defect(q)
            xml = emit(self.person(q), defect)
            if defect:
                fs.add_defect(defect)
                self._inject(fs, source_id(0, q, self.seed), defect)
            elif self.customer_exact_dup(q):
                out.write(xml)
                fs.records += 1
                fs.add_defect("exact_duplicate")
                self._inject(fs, source_id(0, q, self.seed), "exact_duplicate")
            elif self.customer_updated(q):
                fs.add_defect("superseded_version")
                self._inject(fs, source_id(0, q, self.seed), "superseded_version")
                pending_updates += 1
            for k in (1, 2):
                p = (q - self.shift[k - 1]) % self.P
                if self.n_variants(p) >= k:
                    rec, picked = self.variant(p, k)
                    self.perturbations.update(picked)
                    emit(rec)
        while file_index < len(sizes):  # empty trailing files when there are fewer records than files
            close_current()
            open_next()
        close_current()

        path = self.out / updates_rel
        fs = FileStats(updates_rel, "customer_details", "xml", "updates")
        out = OutFile(path)
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n<customers>\n')
        if pending_updates:
            for q in range(self.P):
                if self.customer_updated(q):
                    out.write(self.customer_xml(self.updated(q), None, rng))
                    fs.records += 1
        out.write("</customers>\n")
        fs.__dict__.update(out.close())
        self.files.append(fs)

    def _purchase_record(self, i: int, rng: random.Random) -> tuple[dict, str | None]:
        person, system, kind, ts = self.purchase_key(i)
        currency = pools.LOCALES[self.locale(person)][2]
        items, total = [], 0
        rnd = rng.random  # indexing by random() is ~3x cheaper than rng.choice, and as deterministic
        for _ in range(_ITEM_COUNTS[int(rnd() * len(_ITEM_COUNTS))]):
            category, name, sku, lo, hi = _PRODUCTS[int(rnd() * len(_PRODUCTS))]
            qty = _QUANTITIES[int(rnd() * len(_QUANTITIES))]
            price = lo + int(rnd() * (hi - lo))
            item = {"sku": sku, "quantity": qty, "unit_price": price / 100}
            if rnd() < 0.95:
                item["product_name"] = name
                item["category"] = category
            items.append(item)
            total += qty * price
        if kind == "total_mismatch":
            delta = rng.randrange(2, 5000)
            total = total + delta if rng.random() < 0.5 or total < delta else total - delta
        elif kind == "total_off_by_one_cent":
            total += 1 if rng.random() < 0.5 or total < 1 else -1
        if kind == "future_purchase_ts":
            ts += (365 * FUTURE_YEARS + rng.randrange(3650)) * 86400
        customer = self.unknown_customer_id(i) if kind == "unknown_customer" else source_id(system, person, self.seed)
        rec = {"purchase_id": self.purchase_id(i), "customer_id": customer,
               "purchase_ts": _iso_ts(ts, rng), "currency": currency, "items": items, "total_amount": total / 100}
        channel = rng.choice(pools.CHANNELS)
        if rng.random() < 0.9:
            rec["payment_method"] = rng.choice(pools.PAYMENT_METHODS)
        elif rng.random() < 0.3:
            rec["payment_method"] = None  # JSON null is allowed for an optional field
        if rng.random() < 0.9:
            rec["channel"] = channel
        if channel == "store" and rng.random() < 0.8:
            rec["store_id"] = f"ST-{rng.randrange(1, 120):03d}"
        return rec, kind

    def _purchases(self) -> None:
        rng = random.Random(h64(self.seed, S_SEQ, 2))
        i = 0
        for f, size in enumerate(self._split(self.p.purchases), start=1):
            style = ("json", "jsonl", "ndjson")[(f - 1) % 3]
            newline = "\r\n" if style == "ndjson" else "\n"
            path = self._path("purchases", f"purchases_{f:04d}.{style}")
            fs = FileStats(self._rel(path), "purchases", "json" if style == "json" else "jsonl", "base",
                           line_ending=newline)
            out = OutFile(path)
            sink = JsonRecordsSink(out, "json" if style == "json" else "jsonl", newline,
                                   blank_line_every=1000 if style == "ndjson" else 0)

            def put(text: str, sink=sink, fs=fs) -> None:
                sink.put(text)
                fs.records += 1

            for _ in range(size):
                rec, kind = self._purchase_record(i, rng)
                text = json.dumps(rec, ensure_ascii=False)
                put(text)
                if kind == "exact_duplicate":
                    put(text)
                    fs.add_defect(kind)
                    self._inject(fs, rec["purchase_id"], kind)
                elif kind == "conflicting_duplicate_id":
                    other = dict(rec, items=[dict(rec["items"][0], quantity=rec["items"][0]["quantity"] + 1)]
                                 + rec["items"][1:])
                    other["total_amount"] = round(rec["total_amount"] + rec["items"][0]["unit_price"], 2)
                    put(json.dumps(other, ensure_ascii=False))
                    fs.add_defect(kind, 2)
                    self._inject(fs, rec["purchase_id"], kind)
                    self._inject(fs, rec["purchase_id"], kind)
                elif kind is not None:
                    fs.add_defect(kind)
                    self._inject(fs, rec["purchase_id"], kind)
                i += 1
                self._tick(1)
            sink.finish()
            fs.__dict__.update(out.close())
            self.files.append(fs)

    def _feedback_row(self, j: int, rng: random.Random) -> tuple[list[str], str | None]:
        d, p = unit(self.seed, S_FDEF, j), self.p
        if d < p.defect_rate:
            kind = FEEDBACK_DEFECTS[h64(self.seed, S_FDEFK, j) % len(FEEDBACK_DEFECTS)]
        elif d < p.defect_rate + p.exact_duplicate_rate:
            kind = "exact_duplicate"
        else:
            kind = None
        if kind == "purchase_of_other_customer" and (self.P < 2 or not self.p.purchases):
            kind = "unknown_purchase"
        purchase_id, product, category = "", None, None
        linked = self.p.purchases and (unit(self.seed, S_FLINK, j) < 0.7 or kind == "purchase_of_other_customer")
        i = self.clean_purchase(h64(self.seed, S_FPICK, j) % self.p.purchases) if linked else None
        if i is not None:
            person, system, _, ts = self.purchase_key(i)
            purchase_id = self.purchase_id(i)
            day = datetime.fromtimestamp(ts, tz=UTC).date() + timedelta(days=rng.randrange(0, 31))
            day = min(day, self.as_of)
            category, names, _ = rng.choice(pools.CATALOGUE)
            product = rng.choice(names)
        else:
            person = h64(self.seed, S_FPICK, j) % self.P
            system = (h64(self.seed, S_FPICK, j) >> 40) % (self.n_variants(person) + 1)
            day = self.start + timedelta(days=rng.randrange(_days(self.start, self.as_of) + 1))
        customer = source_id(system, person, self.seed)
        if kind == "unknown_customer":
            customer, purchase_id = self.unknown_customer_id(self.p.purchases + j), ""
        elif kind == "unknown_purchase":
            purchase_id = self.purchase_id(self.p.purchases + j)
        elif kind == "purchase_of_other_customer":
            other = (person + 1 + h64(self.seed, S_FPICK, j + 1) % (self.P - 1)) % self.P
            customer = source_id(0, other, self.seed)
        elif kind == "future_feedback_date":
            day = self.as_of + timedelta(days=365 * FUTURE_YEARS + rng.randrange(3650))
        mood = rng.random()
        if mood < 0.55:
            rating, texts = rng.choice((4, 5, 5)), pools.POSITIVE
        elif mood < 0.75:
            rating, texts = 3, pools.NEUTRAL
        else:
            rating, texts = rng.choice((1, 1, 2)), pools.NEGATIVE
        if rng.random() < 0.05:
            rating = rng.randrange(1, 6)  # people do not always rate as they write
        comment = "" if rng.random() < 0.04 else rng.choice(texts).format(
            p=(product or rng.choice(rng.choice(pools.CATALOGUE)[1])).lower(),
            c=(category or rng.choice(pools.CATALOGUE)[0]).lower())
        row = [f"FB-{j + 1:09d}", customer, purchase_id, day.isoformat(), str(rating),
               rng.choice(pools.FEEDBACK_CHANNELS), comment]
        return row, kind

    def _feedback(self) -> None:
        rng = random.Random(h64(self.seed, S_SEQ, 3))
        j = 0
        for f, size in enumerate(self._split(self.p.feedback), start=1):
            crlf = f % 2 == 0  # alternate files use CRLF and a UTF-8 BOM, both allowed
            path = self._path("feedback", f"feedback_{f:04d}.csv")
            fs = FileStats(self._rel(path), "feedback", "csv", "base", line_ending="\r\n" if crlf else "\n", bom=crlf)
            out = OutFile(path, bom=crlf)
            sink = CsvSink(out, fs.line_ending)
            sink.row(FEEDBACK_HEADER)
            for _ in range(size):
                row, kind = self._feedback_row(j, rng)
                sink.row(row)
                fs.records += 1
                if kind == "exact_duplicate":
                    sink.row(row)
                    fs.records += 1
                    fs.add_defect(kind)
                    self._inject(fs, row[0], kind)
                elif kind == "conflicting_duplicate_id":
                    other = list(row)
                    other[4] = str(int(row[4]) % 5 + 1)
                    sink.row(other)
                    fs.records += 1
                    fs.add_defect(kind, 2)
                    self._inject(fs, row[0], kind)
                    self._inject(fs, row[0], kind)
                elif kind is not None:
                    fs.add_defect(kind)
                    self._inject(fs, row[0], kind)
                j += 1
                self._tick(1)
            fs.__dict__.update(out.close())
            self.files.append(fs)

    def _bad_files(self) -> None:
        for d, dataset in enumerate(badfiles.KINDS):
            kinds = badfiles.KINDS[dataset]
            offset = h64(self.seed, 40, d) % len(kinds)
            for n in range(self.p.bad_files):
                kind = kinds[(offset + n) % len(kinds)]
                ext, data = badfiles.MAKERS[dataset](kind, n + 1)
                path = self._path(dataset, f"bad_{kind}_{n + 1:02d}.{ext}")
                fs = FileStats(self._rel(path), dataset, ext, "bad", bad_kind=kind)
                fs.__dict__.update(write_bytes(path, data))
                self.files.append(fs)

    # ------------------------------------------------------------------ manifest
    def _manifest(self) -> dict:
        datasets = {}
        for name in ("customer_details", "purchases", "feedback"):
            good = [f for f in self.files if f.dataset == name and f.role != "bad"]
            defects: Counter = Counter()
            for f in good:
                defects.update(f.defects)
            datasets[name] = {
                "files": len(good),
                "bad_files": sum(1 for f in self.files if f.dataset == name and f.role == "bad"),
                "records": sum(f.records for f in good),
                "exact_duplicates": sum(f.exact_duplicates for f in good),
                "superseded": sum(f.superseded for f in good),
                "error_records": sum(f.error_records for f in good),
                "defects": dict(sorted(defects.items())),
            }
        datasets["customer_details"]["identity"] = {
            "persons": self.P, "persons_with_two_ids": self.D1 - self.D2, "persons_with_three_ids": self.D2,
            "source_ids": self.P + self.D1 + self.D2, "true_pairs": (self.D1 - self.D2) + 3 * self.D2,
            "variant_records": self.D1 + self.D2, "perturbations": dict(sorted(self.perturbations.items())),
        }
        return {
            "generator": {"name": "c360 generate", "version": GENERATOR_VERSION, "params": asdict(self.p)},
            "rules": RULE_OF,
            "datasets": datasets,
            "files": [f.as_dict() for f in self.files],
        }


def _keyboard_typo(text: str, rng: random.Random) -> str:
    """One slip of the fingers, at a letter past the first: a QWERTY neighbour instead of it or beside it, a letter
    dropped, or two letters swapped."""
    if len(text) < 3:
        return text + text[-1:]
    i = rng.randrange(1, len(text))
    c = text[i]
    near = _NEIGHBOURS.get(c.lower(), "")
    kind = rng.randrange(4) if near else 2 + rng.randrange(2)
    if kind == 0:
        return text[:i] + rng.choice(near) + text[i + 1:]
    if kind == 1:
        return text[:i] + rng.choice(near) + text[i:]
    if kind == 2 or i == len(text) - 1:
        return text[:i] + text[i + 1:]
    return text[:i] + text[i + 1] + text[i] + text[i + 2:]


def _typo(name: str, rng: random.Random) -> str:
    if len(name) < 3:
        return name + name[-1]
    i = rng.randrange(1, len(name) - 1)
    swapped = name[:i] + name[i + 1] + name[i] + name[i + 2:]
    return swapped if swapped != name else name[:i] + name[i + 1:]


# (category, product, sku, lowest price, highest price in cents), flattened once.
_PRODUCTS = tuple((cat, name, f"{cat[:3].upper()}-{sum(map(ord, name)) * 7919 % 100000:05d}", lo, hi)
                  for cat, names, (lo, hi) in pools.CATALOGUE for name in names)
_ITEM_COUNTS = (1, 1, 1, 2, 2, 3, 4)
_QUANTITIES = (1, 1, 1, 1, 2, 2, 3)
_OFFSETS = ((0, "Z"), (0, "+00:00"), (-5, "-05:00"), (-8, "-08:00"), (1, "+01:00"), (-4, "-04:00"))


def _iso_ts(epoch: int, rng: random.Random) -> str:
    """ISO-8601 with an offset; the same instant whatever the offset chosen."""
    hours, suffix = _OFFSETS[int(rng.random() * len(_OFFSETS))]
    t = time.gmtime(epoch + hours * 3600)
    return (f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
            + suffix)


def generate(params: Params, out: Path, progress: bool = True, force: bool = False) -> dict:
    """Write a data set under `out` (raw/<dataset>/..., manifest.json, injected.csv, ground_truth.csv)."""
    out = Path(out)
    owned = [out / "raw", out / "validated", out / "manifest.json", out / "injected.csv", out / "ground_truth.csv"]
    if any(p.exists() for p in owned):
        if not force:
            raise FileExistsError(f"{out} already holds generated data: pass --force to replace it")
        for p in owned:
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
    out.mkdir(parents=True, exist_ok=True)
    manifest = Generator(params, out, progress).run()
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return manifest
