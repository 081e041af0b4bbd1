"""Text a model got stuck in: one short piece repeated over and over ("1:1:1:1:…", "0000…").

Small models fall into such loops inside an otherwise valid JSON string, so a schema cannot catch them; the
worker and the planner treat such text as an unusable answer (asked again, then a model error), never a result.
"""

import re

MIN_REPEATS = 16     # a unit seen this many times in a row…
MIN_SPAN = 64        # …covering at least this many characters (a 10-column table's "| --- " row stays legal)
MIN_SINGLE = 101     # one character: a googol written out (100 zeros) stays legal
# A reply that is nothing but a loop is one with fewer repeats too (cut short by the token limit):
WHOLE_REPEATS = 4    # a unit of 2-40 characters, not all one, seen this many times in a row…
WHOLE_SHARE = 0.8    # …that makes up this share of the text (and at least MIN_SPAN characters)
# So is a reply that ends in a loop cut inside its unit ("… (text/plain, 0 bytes) (text/plain, 0 bytes) ("): a
# unit of CUT_UNIT characters seen WHOLE_REPEATS times in a row up to the end, then less than half of it again.
CUT_UNIT = range(8, 61)
_LOOP = re.compile(r"(.{1,16}?)\1{%d,}" % (MIN_REPEATS - 1), re.S)
_SHORT_LOOP = re.compile(r"(.{2,40}?)\1{%d,}" % (WHOLE_REPEATS - 1), re.S)


def repeated_unit(text: str) -> str | None:
    """The piece `text` repeats degenerately, or None when it reads like text. Only units with a letter or digit
    count: rules of "=" or "-" are layout."""
    for match in _LOOP.finditer(text) if _may_loop(text) else ():
        unit, span = match.group(1), match.end() - match.start()
        if not any(c.isalnum() for c in unit):
            continue
        if span >= (MIN_SINGLE if len(unit) == 1 else MIN_SPAN):
            return unit
    return _whole_loop(text.strip()) or _cut_loop(text.strip())


def _may_loop(text: str) -> bool:
    """False when no unit of up to 16 characters with a letter or digit repeats over MIN_SPAN characters: such a
    run holds a whole 32-wide block of the grid below, whose first 16 characters (the whole unit) come again within
    16. Slice finds in C instead of the regex's scan (~0.8 µs a character: 3 ms on a 4,000-character answer)."""
    for g in range(0, len(text) - 31, 32):
        piece = text[g:g + 16]
        if text.find(piece, g + 1, g + 32) >= 0 and any(c.isalnum() for c in piece):
            return True
    return False


def _whole_loop(body: str) -> str | None:
    if len(body) < MIN_SPAN:
        return None
    # A loop over WHOLE_SHARE of the text covers its middle three fifths: unless that repeats with some unit's
    # period, no match (one comparison per unit size instead of the regex's scan)
    middle = body[len(body) // 5:4 * len(body) // 5]
    if not any(middle[size:] == middle[:-size] for size in range(2, 41)):
        return None
    for match in _SHORT_LOOP.finditer(body):
        unit, span = match.group(1), match.end() - match.start()
        if len(set(unit)) > 1 and any(c.isalnum() for c in unit) and span >= max(MIN_SPAN, WHOLE_SHARE * len(body)):
            return unit
    return None


def _cut_loop(body: str) -> str | None:
    for size in CUT_UNIT:
        # Necessary for every cut below, and one comparison: the last 4 units and a character repeat with period
        # `size` (without this test the scan cost ~0.3 ms on every reply, most of a worker's CPU per subtask).
        tail = body[-WHOLE_REPEATS * size - 1:]
        if len(tail) <= WHOLE_REPEATS * size or tail[size:] != tail[:-size]:
            continue
        for cut in range(1, (size + 1) // 2):
            unit = body[-cut - size:-cut]
            if (len(unit) == size and body.endswith(unit[:cut]) and any(c.isalnum() for c in unit)
                    and (unit + unit).find(unit, 1) == size    # its own unit, not "abab…" (that is "ab"'s)
                    and body[-cut - WHOLE_REPEATS * size:-cut] == unit * WHOLE_REPEATS):
                return unit
    return None


def cut_loop(text: str) -> tuple[str, str] | None:
    """(the text up to where its loop begins repeating, with the unit once; the unit), or None without a loop."""
    unit = repeated_unit(text)
    if unit is None:
        return None
    start = text.find(unit + unit)
    kept = text[:start + len(unit)] if start >= 0 else text
    return kept.rstrip(" ,;:.-\n\t…"), unit


def loop_error(text: str) -> str | None:
    """A short reason to feed back to the model when `text` is stuck in a loop, else None."""
    unit = repeated_unit(text)
    if unit is None:
        return None
    return f"the text repeats {unit!r} over and over: write the result once, without repeating yourself"

