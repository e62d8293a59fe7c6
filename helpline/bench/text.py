"""Varied help-desk text for the benchmark data set, generated fast from pools.

Sentences come from templates filled with help-desk nouns plus a long tail of made-up words, so
the search index sees a realistic vocabulary (a few very common words, many rare ones). Marker
words with a known frequency let `bench run` search for "a word in ~1% of tickets", "a rare
word" and "a phrase" and know what to expect.
"""

import random

# In ~1% of tickets, in ~12 tickets, and as a phrase in ~0.5% of tickets.
COMMON_WORD = "kerfuffle"
RARE_WORD = "zyzzyva"
PHRASE = "blue screen of death"

THINGS = (
    "printer", "laptop", "monitor", "keyboard", "VPN", "password", "email", "calendar", "badge",
    "phone", "headset", "docking station", "wifi", "network drive", "invoice", "statement",
    "credit card", "debit card", "payment", "transfer", "mobile app", "login page", "account",
    "report", "spreadsheet", "database", "server", "backup", "firewall", "certificate",
    "license", "browser", "projector", "scanner", "router", "mailbox", "shared folder",
)  # fmt: skip
PROBLEMS = (
    "not working", "is slow", "keeps crashing", "shows an error", "cannot connect",
    "was charged twice", "is locked", "stopped syncing", "needs replacing", "will not start",
    "asks for a password again", "is missing", "freezes", "prints blank pages", "times out",
)  # fmt: skip
PLACES = (
    "on the third floor", "in the Berlin office", "at home", "in meeting room B", "since Monday",
    "after the update", "every morning", "on my phone", "in the branch", "at the front desk",
)  # fmt: skip
TEMPLATES = (
    "My {thing} {problem} {place}.",
    "Since yesterday the {thing} {problem}.",
    "Could you please check why the {thing} {problem}?",
    "We restarted the {thing} but it still {problem}.",
    "The {thing} {problem} and the {other} too.",
    "Thank you, the {thing} works again.",
    "I tried the steps you sent but the {thing} {problem}.",
    "Please find the error message from the {thing} below.",
    "Our whole team is affected: the {thing} {problem} {place}.",
    "Following up on my last message about the {thing}.",
    "Reset the {thing} and cleared the cache; asked the customer to retry.",
    "Escalated to level 2: the {thing} {problem} {place}.",
    "Customer confirms the {thing} is fine now, closing.",
    "Error code {code} appears when the {thing} {problem}.",
    "Ordered a new {thing}; it should arrive {place}.",
)  # fmt: skip
SYLLABLES = (
    "ka", "lo", "mer", "tin", "sa", "ve", "ro", "qua", "nel", "dri", "po", "zan", "fi", "gor",
    "lu", "be", "tra", "mo", "xi", "den", "ca", "pri", "sol", "um", "vor", "el", "ny", "ash",
)  # fmt: skip
FIRST_NAMES = (
    "Anna", "Ben", "Chloe", "David", "Emma", "Felix", "Grace", "Hugo", "Isla", "Jack", "Kira",
    "Liam", "Maya", "Noah", "Olga", "Pablo", "Quinn", "Rosa", "Sam", "Tara", "Umar", "Vera",
    "Will", "Xenia", "Yusuf", "Zoe", "Amir", "Bea", "Carlos", "Dana", "Eli", "Fatima",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Garcia", "Müller", "Rossi", "Kowalski", "Nguyen", "Okafor", "Silva", "Tanaka",
    "Novak", "Jensen", "Dubois", "Ivanova", "Haddad", "Murphy", "Schmidt", "Costa", "Lindqvist",
    "Papadopoulos", "Yilmaz", "Kim", "Singh", "Brown", "Wilson", "Moreau", "Fischer",
)  # fmt: skip


class TextPool:
    """Pre-made sentences and subjects; picking from them costs microseconds."""

    def __init__(self, rng: random.Random, sentences: int = 20000, tail_words: int = 30000):
        self.rng = rng
        markers = {COMMON_WORD, RARE_WORD}
        words = set()
        while len(words) < tail_words:
            word = "".join(rng.choices(SYLLABLES, k=rng.randint(2, 4)))
            if word not in markers:
                words.add(word)
        self.tail = sorted(words)
        self.sentences = [self._sentence() for _ in range(sentences)]
        self.subjects = [
            f"{thing[0].upper()}{thing[1:]} {problem}" for thing in THINGS for problem in PROBLEMS
        ]

    def _sentence(self) -> str:
        rng = self.rng
        text = rng.choice(TEMPLATES).format(
            thing=rng.choice(THINGS),
            other=rng.choice(THINGS),
            problem=rng.choice(PROBLEMS),
            place=rng.choice(PLACES),
            code=f"E{rng.randint(100, 9999)}",
        )
        # A few words from the long tail: project names, hostnames, product codes.
        tail = " ".join(rng.choices(self.tail, k=rng.randint(1, 4)))
        return f"{text} Ref {tail}."

    def subject(self) -> str:
        subject = self.rng.choice(self.subjects)
        if self.rng.random() < 0.3:
            subject += f" ({self.rng.choice(self.tail)})"
        return subject

    def body(self, sentences: int | None = None) -> str:
        k = sentences or self.rng.randint(1, 5)
        return " ".join(self.rng.choices(self.sentences, k=k))

    def person(self) -> tuple[str, str]:
        """(first name, last name)."""
        return self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
