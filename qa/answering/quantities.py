"""Numbers as a claim states them: value (with its scale word), unit, and place.

The verifier asks three things of every number in a generated claim: that the
sentence it rests on holds the same value (so "four tonnes" is not "four
hundred tonnes", nor "1,25" "1,25 Millionen"), with the same unit where both
name one ("40 km" is not "40 miles"), and attached to the same thing (the
name nearest the number in the claim has that number, not another, nearest it
in the sentence: "the Varne dam cost 900,000" when the Osk dam did).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Scale words after digits, in the languages qa reads ("1.25 million",
# "1,25 Millionen", "3 万").
_SCALE_WORDS = {
    "hundred": 1e2, "thousand": 1e3, "million": 1e6, "millions": 1e6, "billion": 1e9,
    "billions": 1e9, "bn": 1e9, "trillion": 1e12,
    "tausend": 1e3, "mio": 1e6, "millionen": 1e6, "milliarde": 1e9,
    "milliarden": 1e9, "mrd": 1e9,
    "mille": 1e3, "milliard": 1e9, "milliards": 1e9,
    "mil": 1e3, "millón": 1e6, "millones": 1e6,
    "mila": 1e3, "milione": 1e6, "milioni": 1e6, "miliardo": 1e9, "miliardi": 1e9,
    "milhão": 1e6, "milhões": 1e6, "bilhão": 1e9, "bilhões": 1e9,
    "duizend": 1e3, "miljoen": 1e6, "miljard": 1e9,
    "тысяча": 1e3, "тысячи": 1e3, "тысяч": 1e3, "тыс": 1e3, "миллион": 1e6,
    "миллиона": 1e6, "миллионов": 1e6, "млн": 1e6, "миллиард": 1e9, "миллиарда": 1e9,
    "миллиардов": 1e9, "млрд": 1e9,
    "万": 1e4, "萬": 1e4, "亿": 1e8, "億": 1e8, "千": 1e3, "百": 1e2,
}
_SCALE = "|".join(sorted(map(re.escape, _SCALE_WORDS), key=len, reverse=True))
# A number as written: digits with group separators or a decimal part, then
# an optional scale word.
DIGITS = re.compile(r"(?<![\w.,])(\d[\d,.\u00a0\u202f']*\d|\d)(?!\d)"
                    rf"(?:\s*({_SCALE})(?![^\W\d_]))?", re.I)
_ONES = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen".split())}
_TENS = {w: 10 * i for i, w in enumerate(
    "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()) if w != "_"}
_WORD_SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000,
                "billion": 1_000_000_000, "dozen": 12}
_NUMBER_WORD = "|".join([*_ONES, *_TENS, *_WORD_SCALES])
WORDS = re.compile(rf"(?<![\w-])(?:{_NUMBER_WORD})(?:(?:\s+and\s+|[\s-]+)(?:{_NUMBER_WORD}))*"
                   r"(?![\w-])", re.I)

# Units, by any of their names, to one name each.
_UNITS = {
    "km": "km", "kilometre": "km", "kilometres": "km", "kilometer": "km", "kilometers": "km",
    "mile": "mi", "miles": "mi", "mi": "mi", "m": "m", "metre": "m", "metres": "m",
    "meter": "m", "meters": "m", "cm": "cm", "mm": "mm", "ft": "ft", "foot": "ft", "feet": "ft",
    "inch": "in", "inches": "in", "kg": "kg", "kilogram": "kg", "kilograms": "kg",
    "g": "g", "gram": "g", "grams": "g", "tonne": "t", "tonnes": "t", "ton": "t", "tons": "t",
    "lb": "lb", "lbs": "lb", "%": "%", "percent": "%", "per cent": "%", "dollar": "usd",
    "dollars": "usd", "$": "usd", "usd": "usd", "euro": "eur", "euros": "eur", "€": "eur",
    "eur": "eur", "£": "gbp", "sterling": "gbp", "yen": "jpy", "¥": "jpy",
    "hour": "h", "hours": "h", "minute": "min", "minutes": "min", "second": "s",
    "seconds": "s", "day": "day", "days": "day", "week": "week", "weeks": "week",
    "month": "month", "months": "month", "year": "year", "years": "year",
    "litre": "l", "litres": "l", "liter": "l", "liters": "l", "gallon": "gal",
    "gallons": "gal", "acre": "acre", "acres": "acre", "hectare": "ha", "hectares": "ha",
    "ha": "ha", "°c": "°c", "°f": "°f", "celsius": "°c", "fahrenheit": "°f",
    "kilometern": "km", "meilen": "mi", "tonnen": "t", "stunden": "h",
    "jahre": "year", "jahren": "year", "prozent": "%", "km²": "km2", "km2": "km2",
}
# `\s*-?\s*` would try every split of a run of spaces (cubic over a line of them)
_AFTER = re.compile(r"\s*(?:-\s*)?(per cent|%|°[cf]|km²|[^\W\d_]+|[$€£¥])", re.I)
_BEFORE = re.compile(r"([$€£¥])\s*$")


@dataclass(frozen=True)
class Quantity:
    """A number in a text: the values it may stand for, its unit, its offsets."""

    values: frozenset[float]
    unit: str
    start: int
    end: int


def quantities(text: str) -> list[Quantity]:
    """Every number in `text`, digits or words, in order."""
    found: list[Quantity] = []
    taken: list[tuple[int, int]] = []
    for m in DIGITS.finditer(text):
        values = digit_values(m.group(1), m.group(2) or "")
        if values:
            found.append(Quantity(frozenset(values), _unit(text, m.start(), m.end()),
                                  m.start(), m.end()))
            taken.append((m.start(), m.end()))
    for m in WORDS.finditer(text):
        if any(a < m.end() and m.start() < b for a, b in taken):
            continue
        value = _word_value(m.group(0))
        if value is not None and not (value == 1 and " " not in m.group(0).strip()):
            found.append(Quantity(frozenset({float(value)}), _unit(text, m.start(), m.end()),
                                  m.start(), m.end()))
    return sorted(found, key=lambda q: q.start)


def digit_values(written: str, scale: str = "") -> set[float]:
    """The values a written number may stand for: "1,250,000" and "1.25
    million" are both 1250000; "1,250" is 1250 (or 1.25, where a comma marks
    decimals). Compared whole, so "250" never matches inside "1,250,000"."""
    digits = written.replace("\u00a0", " ").replace("\u202f", " ").replace("'", " ")
    grouped = re.fullmatch(r"\d{1,3}(?:([ ,.])\d{3})(?:\1\d{3})*(?:[.,]\d+)?", digits)
    readings = []
    if grouped:
        sep = grouped.group(1)
        rest = digits.replace(sep, "")
        readings.append(rest.replace(",", "."))
        if sep != " " and digits.count(sep) == 1 and not re.search(r"[.,]\d+$", rest):
            readings.append(digits.replace(sep, "."))  # "1,250": 1.25 in a decimal-comma text
    else:
        readings.append(digits.replace(" ", "").replace(",", "."))
    factor = _SCALE_WORDS.get(scale.lower(), 1.0) if scale else 1.0
    out = set()
    for reading in readings:
        try:
            out.add(float(f"{float(reading) * factor:.6g}"))
        except ValueError:
            continue
    return out


def _word_value(phrase: str) -> int | None:
    """"four hundred" 400, "twenty-five thousand" 25000, "a dozen" 12."""
    total = current = 0
    seen = False
    for word in re.split(r"[\s-]+", phrase.lower()):
        if word == "and" or not word:
            continue
        seen = True
        if word in _ONES:
            current += _ONES[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word == "dozen":
            current = max(current, 1) * 12
        else:
            total += max(current, 1) * _WORD_SCALES[word]
            current = 0
    return total + current if seen else None


def _unit(text: str, start: int, end: int) -> str:
    """The unit written right after the number ("40 km", "5%"), or a currency
    sign right before it ("$900"); "" for none."""
    after = _AFTER.match(text, end)
    if after and after.group(1).lower() in _UNITS:
        return _UNITS[after.group(1).lower()]
    before = _BEFORE.search(text[max(0, start - 3):start])
    return _UNITS[before.group(1)] if before else ""


def unsupported(claim: str, sentence: str, names: list[tuple[int, str]]) -> list[str]:
    """The numbers of `claim` that `sentence` does not state as the claim does.

    Args:
        claim: the claim's text.
        sentence: the sentence it rests on.
        names: (offset in the claim, name) of the claim's names, for telling
            what each number is attached to.
    """
    held = quantities(sentence)
    stated = quantities(claim)
    bad = []
    for q in stated:
        same = [h for h in held if h.values & q.values]
        if not same:
            bad.append(claim[q.start:q.end])
            continue
        if q.unit and all(h.unit and h.unit != q.unit for h in same):
            bad.append(claim[q.start:q.end])  # 40 km is not 40 miles
            continue
        owner = _nearest_name(q, names)
        # The claim ties q to that name only if q is the name's own number there too.
        if owner is not None and _nearest(stated, owner[0], q.start > owner[0]) is q and \
                not _attached(owner, q, sentence, held):
            bad.append(claim[q.start:q.end])
    return bad


NEAR = 60  # characters: a name this close to a number can be what it counts


def _nearest_name(q: Quantity, names: list[tuple[int, str]]) -> tuple[int, str] | None:
    near = [n for n in names if min(abs(n[0] - q.start), abs(n[0] - q.end)) <= NEAR]
    return min(near, key=lambda n: min(abs(n[0] - q.start), abs(n[0] - q.end))) \
        if near else None


def _nearest(pool: list[Quantity], place: int, after: bool) -> Quantity:
    """The quantity nearest `place`, on the given side when there is one there."""
    side = [h for h in pool if (h.start > place) == after]
    return min(side or pool, key=lambda h: min(abs(h.start - place), abs(h.end - place)))


def _attached(owner: tuple[int, str], q: Quantity, sentence: str,
              held: list[Quantity]) -> bool:
    """Whether, in the sentence, the number nearest the claim's name (on the
    side the claim puts it, when the sentence has one there) has q's value."""
    at, name = owner
    places = [m.start() for m in re.finditer(rf"(?<!\w){re.escape(name)}(?!\w)", sentence)]
    if not places or not held:
        return True  # the name is not in this sentence: nothing to compare
    return any(_nearest(held, place, q.start > at).values & q.values for place in places)
