"""Regular expressions an administrator may put in a routing rule, and how they are run.

Python's `re` has no timeout, and a rule runs on every incoming request, so a pattern with
catastrophic backtracking (`(a+)+$`) would let one email stall intake. Three guards, together:

1. On save, the pattern's structure is checked (with the parser `re` itself uses): at most
   MAX_PATTERN characters, no back-references, no repeat nested in another repeat when either is
   open-ended (`(a+)+`, `(.*a){12}`), no open-ended repeat over alternatives (`(a|ab)*`), and at
   most MAX_UNBOUNDED open-ended repeats in all. This forbids the exponential shapes outright and
   leaves polynomial ones of low degree.
2. On save, the pattern is timed against hostile texts made from its own characters, at the
   longest length it will ever see; a pattern slower than SAVE_BUDGET_SECONDS on any of them is
   refused (`[a-z]+@bank` is, on 2,000 letters: the sender domain condition does it better).
   The best of three timings counts, so a busy machine does not refuse a good pattern.
3. At intake a pattern only ever sees the first MAX_INPUT characters of a text (subjects are
   shorter; bodies and header values are cut), the length step 2 timed it on, so no accepted
   pattern can take much longer than the save budget on any message.

The `regex` package has a real timeout, but it is not a dependency; a subprocess per match would
cost more than the rules themselves.
"""

import re
import time

try:  # Python 3.11+: the parser lives in re._parser; older names kept the module public.
    from re import _constants as sre_constants
    from re import _parser as sre_parse
except ImportError:  # pragma: no cover
    import sre_constants  # type: ignore[no-redef]
    import sre_parse  # type: ignore[no-redef]

from django.core.exceptions import ValidationError

MAX_PATTERN = 300
MAX_UNBOUNDED = 2
MAX_INPUT = 2000  # characters of body/header text a pattern ever sees
SAVE_BUDGET_SECONDS = 0.05
FLAGS = re.IGNORECASE | re.MULTILINE

_REPEATS = {sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT}
_POSSESSIVE = getattr(sre_constants, "POSSESSIVE_REPEAT", None)
if _POSSESSIVE is not None:
    _REPEATS.add(_POSSESSIVE)
_UNBOUNDED = sre_constants.MAXREPEAT


class _Walk:
    """Walks a parsed pattern, collecting what makes backtracking explode."""

    def __init__(self) -> None:
        self.unbounded = 0
        self.problems: list[str] = []

    def items(self, subpattern, inside_unbounded: bool, inside_repeat: bool = False) -> bool:
        """Walk a sequence; True if it contains a repeat or an alternation."""
        risky = False
        for op, arg in subpattern:
            risky |= self.item(op, arg, inside_unbounded, inside_repeat)
        return risky

    def item(self, op, arg, inside_unbounded: bool, inside_repeat: bool) -> bool:
        walk = self.items
        if op in _REPEATS:
            low, high, body = arg
            unbounded = high == _UNBOUNDED
            if unbounded:
                self.unbounded += 1
            # (a+)+, (a{2,5})*, (.*a){12}: a repeat inside a repeat, one of them open-ended.
            if (inside_unbounded and high > 1) or (inside_repeat and unbounded):
                self.problems.append("a repeated part inside another repeat, like (a+)+")
            body_risky = walk(body, inside_unbounded or unbounded, inside_repeat or high > 1)
            if unbounded and body_risky and not self.problems:
                self.problems.append("a repeat over alternatives or repeats, like (a|ab)*")
            return True
        if op == sre_constants.BRANCH:
            for branch in arg[1]:
                walk(branch, inside_unbounded, inside_repeat)
            return True
        if op == sre_constants.SUBPATTERN:
            return walk(arg[-1], inside_unbounded, inside_repeat)
        if op in (sre_constants.GROUPREF, getattr(sre_constants, "GROUPREF_EXISTS", None)):
            self.problems.append("a back-reference such as \\1")
            return True
        if op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
            return walk(arg[1], inside_unbounded, inside_repeat)
        if op == getattr(sre_constants, "ATOMIC_GROUP", None):
            return walk(arg, inside_unbounded, inside_repeat)
        return False


def _adversarial_texts(pattern: str) -> list[str]:
    """Long texts that make a backtracking matcher work hard for this pattern: runs of its own
    literal characters (which partial matches feed on) ending in something that fails."""
    letters = [ch for ch in dict.fromkeys(pattern) if ch.isalnum() or ch in " .@-_:/"] or ["a"]
    texts = ["a" * MAX_INPUT, (" ".join(letters) + " ") * (MAX_INPUT // (2 * len(letters) + 1))]
    texts.append(("".join(letters)) * (MAX_INPUT // len(letters)))
    return [t[: MAX_INPUT - 1] + "\x00" for t in texts]


def _best_time(compiled: re.Pattern, text: str, tries: int = 3) -> float:
    best = float("inf")
    for _ in range(tries):
        started = time.perf_counter()
        compiled.search(text)
        best = min(best, time.perf_counter() - started)
        if best <= SAVE_BUDGET_SECONDS:
            break
    return best


def validate_pattern(pattern: str) -> re.Pattern:
    """Compile `pattern` if it is safe to run at intake; raise ValidationError saying why not."""
    if not pattern:
        raise ValidationError("Enter a regular expression.")
    if len(pattern) > MAX_PATTERN:
        raise ValidationError(f"Keep the pattern under {MAX_PATTERN} characters.")
    try:
        compiled = re.compile(pattern, FLAGS)
        parsed = sre_parse.parse(pattern, FLAGS)
    except re.error as exc:
        raise ValidationError(f"This is not a valid regular expression: {exc}.")
    walk = _Walk()
    walk.items(parsed, inside_unbounded=False)
    if walk.problems:
        raise ValidationError(
            f"This pattern could take very long on some messages: it has {walk.problems[0]}. "
            "Simplify it (e.g. (a+)+ → a+)."
        )
    if walk.unbounded > MAX_UNBOUNDED:
        raise ValidationError(
            f"Use at most {MAX_UNBOUNDED} open-ended repeats (* or +); this pattern has "
            f"{walk.unbounded}. Bounded ones such as {{1,20}} are fine."
        )
    for text in _adversarial_texts(pattern):
        if _best_time(compiled, text) > SAVE_BUDGET_SECONDS:
            raise ValidationError("This pattern is too slow on long messages; simplify it.")
    return compiled


def search(pattern: str, text: str) -> re.Match | None:
    """Run a saved pattern on at most MAX_INPUT characters of `text` (case-insensitive).

    A pattern that no longer compiles (edited in the database) matches nothing.
    """
    try:
        compiled = re.compile(pattern, FLAGS)
    except re.error:
        return None
    return compiled.search(text[:MAX_INPUT])
