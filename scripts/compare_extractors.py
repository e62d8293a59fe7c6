"""Compare reply extractors on the mail corpus (and on any case file): % of replies exactly right.

    .venv/bin/python scripts/compare_extractors.py                 # the corpus, all extractors
    .venv/bin/python scripts/compare_extractors.py --cases a.json  # also a set of cases of yours
    .venv/bin/python scripts/compare_extractors.py --talon-python /tmp/talon-venv/bin/python

Extractors: "baseline" (helpline/mail/quotes.py as committed at --baseline-rev: by default the
extractor before this rewrite),
"new" (the working tree's), and the libraries that are installed: quotequail, mail-parser-reply,
email-reply-parser, and talon (in its own virtualenv, as it pins old packages: --talon-python).
A library that works on text is given the text part; one that also cuts HTML (quotequail, talon)
is given the HTML of an HTML-only message, rendered by our html_to_text afterwards.

A case is right when the text the thread would show equals the expected text after the corpus
README's normalisation (trailing spaces cut, runs of blank lines folded, outer blank lines
dropped). The corpus gives one case per message with `reply = true` and an .expected.txt; a case
file is JSON: {"set": "name", "cases": [{"name", "classes", "text", "html", "expected"}]} ("text"
empty for an HTML-only message; optional: "subject", "loose": true to ignore whitespace).
Prints one table per set (per class and overall) and the throughput of each extractor, and of
parse + extract on the corpus.
"""

import argparse
import importlib.util
import json
import re
import subprocess
import sys
import time
import tomllib
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "mail" / "corpus"
BASELINE = "7a88867"  # the last commit with the extractor this work replaced
sys.path.insert(0, str(ROOT))


def normalise(text: str) -> str:
    lines = [line.rstrip() for line in (text or "").replace("\r\n", "\n").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


# -- cases --------------------------------------------------------------------------------
def corpus_cases(directory: Path = CORPUS) -> list[dict]:
    from helpline.mail.parse import parse_message

    cases = []
    for toml in sorted(directory.glob("*.toml")):
        meta = tomllib.loads(toml.read_text(encoding="utf-8"))
        expected = toml.with_suffix(".expected.txt")
        if not meta.get("reply") or not expected.exists():
            continue
        parsed = parse_message(toml.with_suffix(".eml").read_bytes())
        cases.append(
            {
                "name": toml.stem,
                "classes": meta.get("classes", []),
                "text": parsed.text,
                "html": parsed.raw_html,
                "subject": parsed.subject,
                "expected": expected.read_text(encoding="utf-8"),
                "images": sum(a.content_type.startswith("image/") for a in parsed.attachments),
            }
        )
    return cases


def file_cases(path: Path) -> tuple[str, list[dict]]:
    from helpline.mail.parse import clean_text
    from helpline.tickets.text import html_to_text, sanitize_html

    data = json.loads(path.read_text(encoding="utf-8"))
    for case in data["cases"]:
        case.setdefault("html", "")
        if not case.get("text", "").strip() and case["html"]:
            case["text"] = clean_text(html_to_text(sanitize_html(case["html"])))  # as parse does
    return data.get("set", path.stem), data["cases"]


def shown(text: str, html: str, case: dict) -> str:
    """What the thread shows for an extractor's (text, html): as intake does."""
    from helpline.tickets.text import html_to_text

    if (text or "").strip():
        return text
    rendered = html_to_text(html)
    if rendered.strip():
        return rendered
    return "(no text; see the attached images)" if case.get("images") else "(empty message)"


# -- extractors ---------------------------------------------------------------------------
def html_only(case: dict) -> bool:
    from helpline.mail.parse import clean_text
    from helpline.tickets.text import html_to_text, sanitize_html

    if not case["html"]:
        return False
    rendered = clean_text(html_to_text(sanitize_html(case["html"])))
    return case["text"].strip() == rendered.strip()


def load_baseline(rev: str):
    source = subprocess.run(
        ["git", "show", f"{rev}:helpline/mail/quotes.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    spec = importlib.util.spec_from_loader("baseline_quotes", loader=None)
    module = importlib.util.module_from_spec(spec)
    exec(compile(source, "baseline_quotes.py", "exec"), module.__dict__)  # noqa: S102
    return module.extract


def extractors(args) -> dict:
    """name → function(case) -> (text, html)."""
    from helpline.mail.quotes import extract
    from helpline.tickets.text import html_to_text

    baseline = load_baseline(args.baseline_rev)
    result = {
        "baseline": lambda case: baseline(case["text"], case["html"]),
        "new": lambda case: extract(case["text"], case["html"], case.get("subject", "")),
    }

    try:
        import quotequail

        def quotequail_extract(case):
            if case["html_only"]:
                html = quotequail.quote_html(case["html"], quote_intro_line=True)[0][1]
                return html_to_text(html), html
            return quotequail.quote(case["text"], quote_intro_line=True)[0][1], ""

        result["quotequail"] = quotequail_extract
    except ImportError:
        pass
    try:
        from mailparser_reply import EmailReplyParser
        from mailparser_reply.constants import MAIL_LANGUAGES

        parser = EmailReplyParser(languages=list(MAIL_LANGUAGES))

        def mpr_extract(case):
            replies = parser.read(case["text"]).replies
            return (replies[0].full_body if replies else case["text"]), ""

        result["mail-parser-reply"] = mpr_extract
    except ImportError:
        pass
    try:
        from email_reply_parser import EmailReplyParser as GithubParser

        def erp_extract(case):
            fragments = GithubParser.read(case["text"]).fragments
            return "\n".join(f.content for f in fragments if not f.quoted), ""

        result["email-reply-parser"] = erp_extract
    except ImportError:
        pass
    return result


def talon_results(python: str, cases: list[dict]) -> tuple[list[tuple[str, str]], float]:
    """Run talon in its own interpreter (this script's --worker mode) over the cases."""
    payload = json.dumps([{k: c[k] for k in ("text", "html", "html_only")} for c in cases])
    done = subprocess.run(
        [python, __file__, "--worker", "talon"],
        input=payload,
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(done.stdout)
    return [tuple(x) for x in data["results"]], data["seconds"]


def talon_worker() -> None:
    import logging

    logging.disable(logging.CRITICAL)
    from talon import quotations

    cases = json.loads(sys.stdin.read())
    results = []
    started = time.perf_counter()
    for case in cases:
        try:
            if case["html_only"]:
                results.append(["", quotations.extract_from_html(case["html"])])
            else:
                results.append([quotations.extract_from_plain(case["text"]), ""])
        except Exception:  # noqa: BLE001 - a library failing counts as wrong
            results.append([case["text"], ""])
    json.dump({"results": results, "seconds": time.perf_counter() - started}, sys.stdout)


# -- measuring ----------------------------------------------------------------------------
def evaluate(cases: list[dict], args) -> tuple[dict, dict, dict]:
    """({extractor: {class: [right, total]}}, {extractor: messages/s}, {extractor: [misses]})."""
    for case in cases:
        case["html_only"] = html_only(case)
    scores: dict = {}
    speed: dict = {}
    misses: dict = {}
    outputs: dict[str, list[tuple[str, str]]] = {}
    for name, fn in extractors(args).items():
        started = time.perf_counter()
        out = []
        for case in cases:
            try:
                out.append(fn(case))
            except Exception as exc:  # noqa: BLE001 - a library failing counts as wrong
                out.append((f"(failed: {exc!r})", ""))
        speed[name] = len(cases) / max(time.perf_counter() - started, 1e-9)
        outputs[name] = out
    if args.talon_python:
        try:
            out, seconds = talon_results(args.talon_python, cases)
        except (OSError, subprocess.CalledProcessError) as exc:
            print(f"talon not run: {exc}", file=sys.stderr)
        else:
            from helpline.tickets.text import html_to_text

            outputs["talon"] = [(t or html_to_text(h), h) for t, h in out]
            speed["talon"] = len(cases) / max(seconds, 1e-9)
    for name, out in outputs.items():
        table: dict = defaultdict(lambda: [0, 0])
        wrong = []
        for case, (text, html) in zip(cases, out, strict=True):
            got, want = normalise(shown(text, html, case)), normalise(case["expected"])
            if case.get("loose"):  # a case file may say whitespace does not count
                got, want = re.sub(r"\s+", "", got), re.sub(r"\s+", "", want)
            ok = got == want
            for cls in [*case.get("classes", []), "overall"]:
                table[cls][0] += ok
                table[cls][1] += 1
            if not ok:
                wrong.append(case["name"])
        scores[name] = dict(table)
        misses[name] = wrong
    return scores, speed, misses


def print_table(title: str, scores: dict, speed: dict, out=sys.stdout) -> None:
    names = list(scores)
    classes = sorted({c for s in scores.values() for c in s if c != "overall"}) + ["overall"]
    width = max(14, *(len(c) for c in classes))
    out.write(f"\n## {title}\n\n")
    out.write(f"| {'class':<{width}} | n | " + " | ".join(names) + " |\n")
    out.write(f"|{'-' * (width + 2)}|---|" + "|".join("---" for _ in names) + "|\n")
    for cls in classes:
        total = next((s[cls][1] for s in scores.values() if cls in s), 0)
        cells = []
        for name in names:
            right, n = scores[name].get(cls, [0, 0])
            cells.append(f"{100 * right / n:.0f}%" if n else "-")
        out.write(f"| {cls:<{width}} | {total} | " + " | ".join(cells) + " |\n")
    out.write(
        f"| {'msgs/s':<{width}} |   | "
        + " | ".join(f"{speed.get(n, 0):,.0f}" for n in names)
        + " |\n"
    )


def corpus_throughput(rounds: int = 20) -> tuple[float, float]:
    """(parse only, parse + extract) messages per second over every corpus message."""
    from helpline.mail.parse import parse_message
    from helpline.mail.quotes import extract

    raws = [p.read_bytes() for p in sorted(CORPUS.glob("*.eml"))]
    started = time.perf_counter()
    for _ in range(rounds):
        for raw in raws:
            parse_message(raw)
    parse_only = rounds * len(raws) / (time.perf_counter() - started)
    started = time.perf_counter()
    for _ in range(rounds):
        for raw in raws:
            parsed = parse_message(raw)
            extract(parsed.text, parsed.raw_html)
    both = rounds * len(raws) / (time.perf_counter() - started)
    return parse_only, both


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", action="append", default=[], type=Path, help="a JSON case file")
    parser.add_argument("--no-corpus", action="store_true", help="only the case files")
    parser.add_argument(
        "--baseline-rev", default=BASELINE, help="git revision of the baseline extractor"
    )
    parser.add_argument("--talon-python", help="a Python with talon installed")
    parser.add_argument("--misses", action="store_true", help="list the new extractor's misses")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker == "talon":
        talon_worker()
        return 0
    sets = [] if args.no_corpus else [("corpus", corpus_cases())]
    sets += [file_cases(path) for path in args.cases]
    for title, cases in sets:
        scores, speed, misses = evaluate(cases, args)
        print_table(f"{title}: % of replies exactly right", scores, speed)
        if args.misses:
            print(f"\nnew misses ({len(misses['new'])}): {' '.join(misses['new'])}")
    if not args.no_corpus:
        parse_only, both = corpus_throughput()
        print(f"\ncorpus throughput: parse only {parse_only:,.0f}/s, parse + extract {both:,.0f}/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
