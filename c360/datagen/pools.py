"""Value pools the generator samples from: built once per seed, so records cost a few random draws each.

Faker (pinned) supplies names, streets, cities and postcodes per locale; phone numbers are drawn from
numbering ranges and kept only when `phonenumbers` (default region US, as the ETL uses) judges every
format we write of them valid and equal in E.164. Product catalogue and review texts are our own.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass, field

import phonenumbers
from faker import Faker

# locale code -> (Faker locale, country, currency, weight)
LOCALES = {
    "US": ("en_US", "US", "USD", 0.80),
    "GB": ("en_GB", "GB", "GBP", 0.07),
    "CA": ("en_CA", "CA", "CAD", 0.05),
    "DE": ("de_DE", "DE", "EUR", 0.04),
    "FR": ("fr_FR", "FR", "EUR", 0.04),
}
LOCALE_ORDER = tuple(LOCALES)
LOCALE_CUMULATIVE = []
_acc = 0.0
for _code in LOCALE_ORDER:
    _acc += LOCALES[_code][3]
    LOCALE_CUMULATIVE.append(_acc)

# Free-mail and ISP domains; syntactically valid for email-validator without DNS.
EMAIL_DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "aol.com",
                 "proton.me", "gmx.de", "orange.fr", "btinternet.com", "comcast.net", "mail.com")
WORK_DOMAINS = ("acme-corp.com", "globex.io", "initech.net", "umbrella-group.org", "hooli.com", "vandelay.biz")

# Emails that email-validator rejects even after trimming and lower-casing (a unit test pins each one).
BAD_EMAILS = ("{u}@", "@{d}", "{u}..x@{d}", "{u} x@{d}", "{u}@gmail", "{u}@@{d}", "{u}.{d}", "{u}@-{d}",
              ".{u}@{d}", "{u}.@{d}", "{u}@{d}..com", "{u}@ex_ample.com")
# Phones that phonenumbers (region US) cannot turn into a valid E.164 number (a unit test pins each one).
BAD_PHONES = ("12345", "555-0100", "+1 (000) 000-0000", "call after 5pm", "n/a", "999-999-9999",
              "+44 20 7946", "0000000000", "ext. 42", "+49 30")

US_AREA_CODES = ("201", "202", "206", "212", "213", "214", "305", "312", "404", "415", "503", "512",
                 "602", "617", "702", "713", "718", "720", "805", "818", "917", "972")
CA_AREA_CODES = ("403", "416", "514", "604", "613", "780", "905")

LOYALTY_TIERS = (("Bronze", 0.50), ("Silver", 0.30), ("Gold", 0.15), ("Platinum", 0.05))
PAYMENT_METHODS = ("card", "card", "card", "paypal", "cash", "gift_card", "bank_transfer")
CHANNELS = ("web", "web", "mobile", "store")
FEEDBACK_CHANNELS = ("email", "web form", "app", "phone survey", "in store", "chat", "")

# (category, product names, price range in cents)
CATALOGUE = (
    ("Electronics", ("Wireless Earbuds", "Bluetooth Speaker", "USB-C Charger", "Smart Watch", "E-Reader",
                     "Noise-Cancelling Headphones", "Webcam", "Portable SSD"), (1499, 29999)),
    ("Home & Kitchen", ("Chef's Knife", "French Press", "Cast Iron Skillet", "Blender", "Throw Blanket",
                        "Scented Candle", "Air Fryer", "Dish Rack"), (899, 14999)),
    ("Apparel", ("Rain Jacket", "Running Shoes", "Wool Socks", "Denim Jeans", "Hoodie", "Sun Hat",
                 "Leather Belt", "Yoga Pants"), (999, 17999)),
    ("Beauty", ("Face Serum", "Shampoo", "Sunscreen SPF 50", "Lip Balm", "Hand Cream", "Perfume"), (399, 8999)),
    ("Books", ("Cookbook", "Mystery Novel", "Travel Guide", "Sci-Fi Paperback", "Kids' Picture Book",
               "Notebook"), (499, 3999)),
    ("Sports", ("Yoga Mat", "Dumbbell Set", "Water Bottle", "Bike Helmet", "Tennis Balls", "Jump Rope"),
     (599, 19999)),
    ("Grocery", ("Coffee Beans", "Green Tea", "Olive Oil", "Dark Chocolate", "Granola", "Hot Sauce"),
     (299, 2999)),
)

POSITIVE = (
    "Love the {p}! Works exactly as described.",
    "Great {p}, arrived early and well packed.",
    "Excellent quality, would buy the {p} again.",
    "Fantastic service, the staff were helpful and friendly.",
    "The {p} is perfect, my family loves it.",
    "Really happy with this purchase, great value for money.",
    "Amazing {p}. Fast delivery, \"five stars\" from me.",
    "Best {c} purchase this year, highly recommend it.",
    "Très bien, the {p} is wonderful 👍",
    "Superb!\nThe {p} exceeded my expectations.",
)
NEUTRAL = (
    "The {p} is okay, does the job.",
    "Delivery took a week, the {p} is as expected.",
    "Average {p}, nothing special but fine.",
    "It works. Packaging was plain, instructions were short.",
    "The {p} arrived on Tuesday; haven't used it much yet.",
    "Ordered the {p} in blue, it is blue.",
    "Returned one item, kept the {p}.",
)
NEGATIVE = (
    "Terrible {p}, broke after two days.",
    "Very disappointed: the {p} arrived damaged and support was unhelpful.",
    "Awful experience, the order was late and the {p} was wrong.",
    "Poor quality, the {p} feels cheap. Would not buy again.",
    "The worst {c} purchase I have made, \"refund\" took a month.",
    "Bad fit, bad material, bad service.\nNever again.",
    "The {p} stopped working, what a waste of money, honestly.",
)


def ascii_fold(text: str) -> str:
    """Letters only, accents folded: for building e-mail local parts from names."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in folded.lower() if ch.isalpha())


def pick_weighted(r: float, pairs) -> str:
    acc = 0.0
    for value, weight in pairs:
        acc += weight
        if r < acc:
            return value
    return pairs[-1][0]


@dataclass
class LocalePool:
    code: str
    country: str
    currency: str
    first_female: list[str] = field(default_factory=list)
    first_male: list[str] = field(default_factory=list)
    last: list[str] = field(default_factory=list)
    streets: list[str] = field(default_factory=list)
    places: list[tuple[str, str | None, str]] = field(default_factory=list)  # city, state, postcode
    phones: list[tuple[str, ...]] = field(default_factory=list)  # each number in all its written forms


def _us_like(rng: random.Random, areas) -> str:
    exchange = rng.randrange(200, 1000)
    if exchange % 100 == 11:  # N11 codes are service codes
        exchange += 1
    return f"+1{rng.choice(areas)}{exchange:03d}{rng.randrange(10000):04d}"


def _candidate_phone(code: str, rng: random.Random) -> str:
    if code == "US":
        return _us_like(rng, US_AREA_CODES)
    if code == "CA":
        return _us_like(rng, CA_AREA_CODES)
    if code == "GB":
        return rng.choice(("+4420", "+44161", "+447")) + "".join(str(rng.randrange(10)) for _ in range(8))
    if code == "DE":
        return rng.choice(("+4930", "+4989", "+49151")) + "".join(str(rng.randrange(10)) for _ in range(8))
    return rng.choice(("+331", "+336", "+334")) + "".join(str(rng.randrange(10)) for _ in range(8))


def phone_formats(code: str, number: phonenumbers.PhoneNumber) -> list[str]:
    """The ways a human writes this number; all parse (region US) to the same valid E.164."""
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    intl = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    if code in ("US", "CA"):
        n = e164[2:]
        return [f"({n[:3]}) {n[3:6]}-{n[6:]}", f"{n[:3]}-{n[3:6]}-{n[6:]}", f"{n[:3]}.{n[3:6]}.{n[6:]}",
                intl, e164, f"1-{n[:3]}-{n[3:6]}-{n[6:]}"]
    return [intl, e164, intl.replace(" ", "-")]


def _phone_ok(code: str, candidate: str) -> phonenumbers.PhoneNumber | None:
    number = phonenumbers.parse(candidate, "US")
    if not phonenumbers.is_valid_number(number):
        return None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    for text in phone_formats(code, number):
        again = phonenumbers.parse(text, "US")
        if not phonenumbers.is_valid_number(again):
            return None
        if phonenumbers.format_number(again, phonenumbers.PhoneNumberFormat.E164) != e164:
            return None
    return number


def build_pools(seed: int, size: int = 400) -> dict[str, LocalePool]:
    pools = {}
    for i, code in enumerate(LOCALE_ORDER):
        faker_locale, country, currency, _ = LOCALES[code]
        fake = Faker(faker_locale)
        fake.seed_instance(seed * 31 + i)
        rng = random.Random(seed * 131 + i)
        pool = LocalePool(code, country, currency)
        pool.first_female = sorted({fake.first_name_female() for _ in range(size)})
        pool.first_male = sorted({fake.first_name_male() for _ in range(size)})
        pool.last = sorted({fake.last_name() for _ in range(size)})
        pool.streets = [fake.street_address().replace("\n", " ") for _ in range(size)]
        state = getattr(fake, "state_abbr", None) if code in ("US", "CA") else getattr(fake, "state", None)
        pool.places = [(fake.city(), state() if state else None, fake.postcode()) for _ in range(size)]
        while len(pool.phones) < size:
            number = _phone_ok(code, _candidate_phone(code, rng))
            if number is not None:
                pool.phones.append(tuple(phone_formats(code, number)))
        pools[code] = pool
    return pools
