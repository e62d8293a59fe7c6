"""Reply extraction: what the person wrote in this message, without the history it quotes.

The thread shows everything the person wrote, in their order: their signature, sign-off and
"Sent from my iPhone" stay (the page folds signatures). What goes: the quoted history with its
attribution line or header block (any language, above or below the answer), a mailing-list
footer, and our own "type your reply above this line" marker. The whole message is kept
elsewhere; when in doubt this keeps text: a line too many is better than a lost sentence.

Text and HTML go through one line-based analysis. A text body is split into lines ("> " lines are
quoted); an HTML body is rendered into the lines a reader sees (helpline.tickets.text), each
knowing where it starts in the source and whether it sits inside a quote element (gmail_quote,
blockquote type=cite, yahoo_quoted…) or after a quote-header element (Outlook's divRplyFwdMsg…).
The analysis decides which lines are history; the HTML loses the same lines' source spans.
"""

import re
from dataclasses import dataclass

from helpline.tickets.text import HtmlRenderer, html_to_text, sanitize_html

# Our own marker, at the top of every mail we send to requesters.
REPLY_MARKER = "##- Please type your reply above this line -##"
_MARKER = re.compile(r"(?i)#*-?\s*(please\s+)?type\s+your\s+reply\s+above\s+this\s+line")

_LONGEST_HEADER_LINE = 400  # longer lines are never an attribution or a header

# -- attribution lines ("On … wrote:") ------------------------------------------------------
# The verbs that end (or nearly end) an attribution, in the languages mail clients speak.
_VERBS = (
    r"wrote|writes|sent|schrieb|schreibt|hat\s+geschrieben|a\s+écrit|a\s+ecrit|écrit|escribió|"
    r"escribio|ha\s+escrito|escreveu|ha\s+scritto|scrisse|schreef|heeft\s+geschreven|"
    r"napisał(?:\(a\))?|napisała|napisal(?:\(a\))?|napsal(?:\(a\))?|napisao|написал(?:\(а\))?|"
    r"написала|написав|пишет|skrev|kirjoitti|írta|yazdı|έγραψε|a\s+scris|rašė|rakstīja|"
    r"kirjutas"
)
_CJK_VERBS = r"写道|寫道|のメッセージ|が書きました|작성"
_VERB_END = re.compile(rf"(?i)(?:(?:\b|\s)(?:{_VERBS})|{_CJK_VERBS})\s*(?:\S{{0,60}}?)?\s*:\s*$")
# "Op 13-02-2014 3:18 schreef Julius Caesar <pantheon@rome.com>:" (verb before the name).
_VERB_ANY = re.compile(rf"(?i)(?:^|\s)(?:{_VERBS})(?:\s|:|$)")
_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+|<[^<>\s]{1,200}>|\[mailto:")
_DATE = re.compile(
    r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}|\b\d{1,2}:\d{2}\b|\b(?:19|20)\d{2}\b|"
    r"(?i:\b(?:mon|tue|wed|thu|fri|sat|sun|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b)"
)
_DATE_FIRST = re.compile(r"^\d{1,4}[./-]\d{1,2}[./-]\d{1,4}\b")
# "---- On Mon, 04 Mar 2012 10:11 Name <addr> wrote ----" (Zoho) and its translations.
_DASHED_ATTRIBUTION = re.compile(
    rf"(?i)^-{{2,}}\s*(?=.{{0,300}}?(?:\b(?:{_VERBS})\b|{_CJK_VERBS})).{{4,300}}?\s*-{{2,}}\s*$"
)
# "==== Message du 04/03/12 10:11 ====", "> Message du 04/03/12 10:11" (French webmails).
_MESSAGE_DU = re.compile(r"(?i)^[=\s]*message\s+du\s+\d")

# -- header blocks ("From: … Sent: … To: … Subject: …") -----------------------------------
_FROM_WORDS = (
    r"from|von|de|da|van|od|från|fra|frá|lähettäjä|feladó|kimden|от|від|z|de\s+la|από|afsender|"
    r"saatja|nuo|no|差出人|发件人|寄件者|보낸\s*사람|expéditeur|remitente|absender|mittente|"
    r"afzender|nadawca|odesílatel|отправитель"
)
_OTHER_WORDS = (
    r"sent|date|to|cc|bcc|subject|reply-to|gesendet|datum|an|betreff|kopie|envoyé|à|a|objet|"
    r"enviado|enviada|fecha|para|asunto|inviato|data|oggetto|verzonden|aan|onderwerp|wysłano|"
    r"wysłane|do|temat|dw|skickat|till|ämne|kopia|sendt|til|emne|dato|отправлено|дата|кому|"
    r"копия|тема|надіслано|lähetetty|vastaanottaja|aihe|päivämäärä|elküldve|címzett|tárgy|"
    r"dátum|gönderildi|gönderilen|kime|konu|tarih|odesláno|komu|předmět|trimis|către|subiect|"
    r"αποστολή|προς|θέμα|送信日時|宛先|件名|日付|发送时间|发送日期|收件人|主题|日期|抄送|"
    r"보낸\s*날짜|받는\s*사람|제목|envoyé\s+le|enviado\s+el|sent\s+date|destinataire|cc\s*:"
)
_FROM_LINE = re.compile(rf"(?i)^[*\s]*(?:{_FROM_WORDS})\s*:[*\s]*\S")
_HEADER_LINE = re.compile(rf"(?i)^[*\s]*(?:{_FROM_WORDS}|{_OTHER_WORDS})\s*:(?:[*\s]|$)")
# Outlook's header in one line: "From: X Sent: Y To: Z Subject: W".
_INLINE_HEADERS = re.compile(r"(?i)\s\*?(?:sent|date|to|subject|gesendet|an|betreff)\s*:\*?\s")

# -- separators ---------------------------------------------------------------------------
_ORIGINAL = re.compile(
    r"(?i)^[\s>]*-{2,}\s*(original\s+message|original\s+e-?mail|ursprüngliche\s+nachricht|"
    r"originalnachricht|message\s+d'origine|message\s+original|mensaje\s+original|"
    r"mensagem\s+original|messaggio\s+originale|oorspronkelijk\s+bericht|origineel\s+bericht|"
    r"wiadomość\s+oryginalna|původní\s+zpráva|pôvodná\s+správa|alkuperäinen\s+viesti|"
    r"opprinnelig\s+melding|oprindelig\s+meddelelse|ursprungligt\s+meddelande|"
    r"eredeti\s+üzenet|исходное\s+сообщение|оригинальное\s+сообщение|"
    r"вихідне\s+повідомлення|αρχικό\s+μήνυμα|orijinal\s+mesaj|原始邮件|原始郵件|元のメッセージ|"
    r"reply\s+message|antwort)\s*-{2,}\s*$"
)
_DASHED_TITLE = re.compile(r"^[\s>]*-{3,}\s*[^-\s][^-]{0,60}?\s*-{3,}\s*$")
# "-----Antwort Nachricht-----", "---- Mensaje reenviado ----" (a forward is caught first).
_MESSAGE_WORD = re.compile(
    r"(?i)message|nachricht|mensaje|messaggio|bericht|wiadomość|zpráva|správa|сообщение|"
    r"повідомлення|viesti|melding|meddelelse|meddelande|mensagem|üzenet|mesaj|μήνυμα|郵件|邮件"
)
_RULE = re.compile(r"^\s*(?:_{5,}|-{10,}|={10,}|\*{10,})\s*$")
_FORWARD_WORDS = (
    r"forward|weitergeleitet|transféré|transfere|réexpédié|reenviad|inoltrat|doorgestuurd|"
    r"пересл|пересыл|переадрес|przekazan|przekazyw|vidarebefordra|videresend|encaminhad|välitetty|"
    r"přeposlan|továbbított|iletil|転送|转发|轉寄"
)
# "---------- Forwarded message ---------", "Begin forwarded message:", "Inizio messaggio
# inoltrato:", "-------- Weitergeleitete Nachricht --------" and the like.
_FORWARD = re.compile(
    rf"(?i)^[\s>]*(?:[-=]{{2,}}\s*[^-=]{{0,40}}(?:{_FORWARD_WORDS})[^-=]{{0,80}}[-=]{{2,}}|"
    rf"[^\d@:]{{0,40}}(?:{_FORWARD_WORDS})[^\d@:]{{0,40}}:)\s*$"
)

# -- "Sent from my iPhone" and friends ----------------------------------------------------
_MOBILE = re.compile(
    r"(?i)^\s*(?:sent\s+from\s+(?:my\s+)?[\w .'’-]{2,40}|sent\s+(?:with|via|using)\s+[\w .-]{2,40}|"
    r"get\s+outlook\s+for\s+\w+|von\s+meinem\s+[\w .-]{2,30}\s+gesendet|"
    r"gesendet\s+(?:von|mit|vom)\s+[\w .-]{2,40}|envoyé\s+de\s+mon\s+[\w .-]{2,30}|"
    r"envoyé\s+depuis\s+[\w .-]{2,40}|enviado\s+(?:desde|do|de)\s+(?:mi|meu)\s+[\w .-]{2,30}|"
    r"inviato\s+da\s+[\w .-]{2,30}|verzonden\s+(?:vanaf|met)\s+[\w .-]{2,30}|"
    r"wysłane\s+z\s+[\w .'’-]{2,30}|skickat\s+från\s+[\w .-]{2,30}|sendt\s+fra\s+[\w .-]{2,30}|"
    r"отправлено\s+(?:с|из|со)\s+[\w .-]{2,40}|надіслано\s+з\s+[\w .-]{2,30}|"
    r"lähetetty\s+[\w .-]{2,40}|odesláno\s+z\s+[\w .-]{2,30})[.!]?\s*$"
)

# -- mailing-list footers -----------------------------------------------------------------
_FOOTER_WORDS = re.compile(
    r"(?i)mailing\s+list|/listinfo|/mailman/|unsubscribe|you\s+received\s+this\s+message\s+because|"
    r"subscribed\s+to\s+the\s+google|to\s+post\s+to\s+this\s+group|view\s+this\s+discussion|"
    r"reply\s+to\s+this\s+email\s+directly|view\s+it\s+on\s+github|you\s+are\s+receiving\s+this|"
    r"abmelden|abbestellen|se\s+désabonner|désinscri|darse\s+de\s+baja|cancelar\s+la\s+suscripción|"
    r"отписаться|отказаться\s+от\s+подписки|wypisz|afmelden|list\s+archive|list-unsubscribe|"
    r"groups\.google\.com|googlegroups\.com|lists\.[\w-]+\.\w+"
)
_FOOTER_RULE = re.compile(r"^\s*(?:_{5,}|-{2,}\s*|—+|={5,}|\*{5,})\s*$")


@dataclass(slots=True)
class Line:
    text: str
    quoted: bool = False  # "> " in text, inside a quote element in HTML
    hard: bool = False  # HTML: the first line of a quote-header element (divRplyFwdMsg…)
    rule: bool = False  # HTML: an <hr> just above this line
    start: int = 0  # HTML: where the line starts in the source


def _is_attribution(text: str) -> bool:
    """One (possibly joined) line that introduces quoted text: "On … wrote:" in any form."""
    s = text.strip().lstrip(">").strip().replace("：", ":")
    if not s or len(s) > _LONGEST_HEADER_LINE:
        return False
    if _DASHED_ATTRIBUTION.match(s) or _MESSAGE_DU.match(s):
        return True
    if not s.endswith(":"):
        # "2011/4/7 Nathan <support@example.com>" (Gmail, years ago): date first, no colon.
        return bool(_DATE_FIRST.match(s) and s.endswith(">") and _ADDRESS.search(s))
    if _VERB_END.search(s):
        return True
    # "2012-03-04 10:11 GMT+01:00 Name <addr>:", "04.03.2012, 10:11, "Name" <addr>:",
    # "Op 13-02-2014 3:18 schreef Julius <julius@rome.com>:", "W dniu … napisał(a):".
    has_address = _ADDRESS.search(s) is not None
    has_date = _DATE.search(s) is not None
    return (has_address and has_date) or (has_date and _VERB_ANY.search(s) is not None)


def _attribution_at(lines: list[Line], i: int, quoted: bool = False) -> int:
    """If an attribution starts at line i (wrapped over up to 4 lines), its line count, else 0."""
    first = lines[i].text.strip()
    if not first or len(first) > _LONGEST_HEADER_LINE or lines[i].quoted != quoted:
        return 0
    # Cheap: an attribution ends with ":" (or "----", ">") within four lines, or is "Message du".
    if not any(
        line.text.rstrip().endswith((":", "：", "-", ">")) for line in lines[i : i + 4]
    ) and not _MESSAGE_DU.match(first.lstrip("> ")):
        return 0
    joined = first
    for n in range(1, 5):
        if _is_attribution(joined):
            return n
        if (
            n == 1
            and not _ADDRESS.search(first)
            and (first[-1] in ".!?" or not _DATE.search(first))
        ):
            return 0  # only a line with an address or a date wraps into an attribution
        if i + n >= len(lines) or lines[i + n].quoted != quoted:
            return 0
        nxt = lines[i + n].text.strip()
        if not nxt or len(joined) > _LONGEST_HEADER_LINE:
            return 0
        joined = f"{joined} {nxt}"
    return 0


def _header_block_at(lines: list[Line], i: int) -> bool:
    """A quoted message's header block starts at line i: From:/Sent:/To:/Subject: and friends."""
    text = lines[i].text
    if len(text) > 2000 or not _HEADER_LINE.match(text):
        return False
    if _FROM_LINE.match(text) and len(_INLINE_HEADERS.findall(text)) >= 2:
        return True  # "From: X Sent: Y To: Z Subject: W" on one line
    headers, has_from, wrapped = 0, False, 0
    for k in range(i, min(len(lines), i + 14)):
        stripped = lines[k].text.strip()
        if not stripped:
            after = lines[k + 1].text.strip() if k + 1 < len(lines) else ""
            if not _HEADER_LINE.match(after):
                break  # a blank line ends the block, unless a header line follows it
        elif _HEADER_LINE.match(stripped):
            headers += 1
            wrapped = 0
            has_from = has_from or bool(_FROM_LINE.match(stripped))
            if headers >= 3 and has_from:
                return True
        else:
            wrapped += 1  # a long recipient list wraps
            if wrapped > 2:
                break
    return False


def _separator_before(lines: list[Line], i: int) -> int:
    """Line i starts a quoted header: move up over a rule or "Original Message" line above it."""
    j = i - 1
    while j >= 0 and not lines[j].text.strip():
        j -= 1
    if j >= 0 and (
        _RULE.match(lines[j].text)
        or _ORIGINAL.match(lines[j].text)
        or _DASHED_TITLE.match(lines[j].text)
    ):
        return j
    return i


def _hard_cut(lines: list[Line]) -> tuple[int, int]:
    """(first line of unmarked quoted history, first line of the answer's own text).

    Unmarked history is what no "> " or quote element marks: everything after an Outlook header
    block, an "Original Message" line, an attribution not followed by quoted lines, our marker.
    The first value is len(lines) when there is none. Nothing is looked for after a forwarded
    message's separator: what was forwarded is the request.
    """
    first_text = next((k for k, line in enumerate(lines) if line.text.strip()), len(lines))
    for i, line in enumerate(lines):
        text = line.text
        if line.hard:
            return i, first_text
        if line.quoted or not text.strip():
            continue
        if _MARKER.search(text):
            return _back_over_attribution(lines, i), first_text
        if len(text) > _LONGEST_HEADER_LINE * 5:
            continue
        if _FORWARD.match(text):
            return -i - 1, first_text  # a forward: nothing below it is cut
        if _ORIGINAL.match(text) or (_DASHED_TITLE.match(text) and _MESSAGE_WORD.search(text)):
            return i, first_text
        if (_RULE.match(text) or _DASHED_TITLE.match(text)) and _history_follows(lines, i + 1):
            return i, first_text
        if _header_block_at(lines, i):
            return (i if line.rule else _separator_before(lines, i)), first_text
        n = _attribution_at(lines, i)
        if n and not _quote_follows(lines, i + n) and _dated(lines, i, n):
            return i, first_text
        if line.rule and n:
            return i, first_text
    return len(lines), first_text


def _dated(lines: list[Line], i: int, n: int) -> bool:
    """The attribution at lines[i:i+n] names a date or an address ("X wrote:" alone is only an
    attribution when quoted lines follow it)."""
    joined = " ".join(line.text for line in lines[i : i + n])
    return bool(
        _DATE.search(joined) or _ADDRESS.search(joined) or _DASHED_ATTRIBUTION.match(joined)
    )


def _history_follows(lines: list[Line], i: int) -> bool:
    """A header block or an attribution starts within the next three lines."""
    for j in range(i, min(i + 4, len(lines))):
        if lines[j].text.strip():
            return _header_block_at(lines, j) or bool(_attribution_at(lines, j))
    return False


def _quote_follows(lines: list[Line], i: int) -> bool:
    stop = min(len(lines), i + 50)
    while i < stop and not lines[i].text.strip() and not lines[i].quoted:
        i += 1
    return i < stop and lines[i].quoted


def _back_over_attribution(lines: list[Line], i: int) -> int:
    """Step back over blank and quoted lines, and an attribution, just above our marker."""
    while i > 0 and (not lines[i - 1].text.strip() or lines[i - 1].quoted):
        i -= 1
    for n in (4, 3, 2, 1):
        if i - n >= 0 and _attribution_at(lines, i - n) == n:
            return i - n
    if i > 0 and re.search(r"(?i)\bwrote\s*:\s*$", lines[i - 1].text):
        return i - 1
    return i


def _mobile_cut(lines: list[Line], end: int) -> int:
    """ "Sent from my iPhone" with unmarked quoted text after it: the history starts below it."""
    for i in range(end):
        if lines[i].quoted or len(lines[i].text) > 80 or not _MOBILE.match(lines[i].text):
            continue
        k = i + 1
        while k < end and not lines[k].text.strip():
            k += 1
        if (
            k < end
            and not lines[k].quoted
            and not _attribution_at(lines, k)
            and not _is_footer(lines, k, end)
        ):
            return i + 1
    return end


def _is_footer(lines: list[Line], start: int, end: int) -> bool:
    """lines[start:end] is a short block (12 lines at most) with a mailing-list footer's words."""
    body = []
    for k in range(start, end):
        if lines[k].text.strip():
            body.append(lines[k].text)
            if len(body) > 12:
                return False
    return bool(body) and any(_FOOTER_WORDS.search(t) for t in body)


def _footer_start(lines: list[Line], end: int) -> int:
    """Where a mailing-list footer at the end of lines[:end] starts (end if there is none)."""
    nonblank = [k for k in range(end) if lines[k].text.strip() and not lines[k].quoted]
    if not nonblank:
        return end
    last = nonblank[-1]
    if any(lines[k].quoted for k in range(last, end)):
        return end
    for k in reversed(nonblank[-13:]):
        if _FOOTER_RULE.match(lines[k].text) and _is_footer(lines, k + 1, end):
            return k
    return end


def _join_wrapped_quotes(lines: list[Line], end: int) -> None:
    """A line or two with no "> " right between two quoted lines is a quoted line that the
    client wrapped without its prefix (an answer has a blank line around it)."""
    i = 1
    while i < end:
        if lines[i].quoted or not lines[i - 1].quoted:
            i += 1
            continue
        j = i
        while j < end and j - i < 2 and not lines[j].quoted and lines[j].text.strip():
            j += 1
        if (
            j < end
            and j > i
            and lines[j].quoted
            and (lines[j].text + lines[i - 1].text).strip(" >")
        ):
            for k in range(i, j):
                lines[k].quoted = True
        i = j + 1


def _quote_runs(lines: list[Line], end: int) -> list[tuple[int, int]]:
    """[(first, last + 1)] of each run of quoted lines in lines[:end], blank lines inside a run
    joined to it, each widened upwards over the attribution that introduces it."""
    runs: list[tuple[int, int]] = []
    i = 0
    while i < end:
        if not lines[i].quoted:
            i += 1
            continue
        j = i
        last = i
        while j < end and (lines[j].quoted or not lines[j].text.strip()):
            if lines[j].quoted:
                last = j
            j += 1
        start = i
        k = i - 1
        while k >= 0 and not lines[k].text.strip():
            k -= 1
        for n in (4, 3, 2, 1):
            if k - n + 1 >= 0 and _attribution_at(lines, k - n + 1) == n:
                start = k - n + 1
                break
        if runs and start < runs[-1][1]:
            start = runs[-1][1]
        runs.append((start, last + 1))
        i = last + 1
    return runs


# A forward's subject: "Fwd:", "FW:", "WG:", "TR:", "RV:", "I:", "Enc:", "Doorst:", "VS:", "VB:",
# "PD:", "ПЕР:", "Пересл:", "İLT:", "PŘ:", "ΠΡΘ:", "转发:"… (what it starts with, not "Re: Fwd:").
_FORWARD_SUBJECT = re.compile(
    r"(?i)^\s*(?:\[[^\]]{0,40}\]\s*)?(?:fwd?|wg|tr|rv|i|enc|doorst|vs|vb|vl|pd|fs|ilt|i̇lt|"
    r"továbbítás|př|per|пер|пересл|πρθ|转发|轉寄|転送)\s*[:：]"
)


def _keep_mask(lines: list[Line], forward: bool = False) -> list[bool]:
    """Which lines the person wrote in this message (all of a forward but a list footer)."""
    if forward:
        end = _footer_start(lines, len(lines))
        return [i < end for i in range(len(lines))]
    cut, first = _hard_cut(lines)
    forwarded = len(lines)
    if cut < 0:
        cut = forwarded = -cut - 1
    elif cut <= first:
        cut = len(lines)  # nothing above the unmarked history: keep it all (unsure)
    end = _mobile_cut(lines, cut)
    end = _footer_start(lines, end)
    keep = [i < end for i in range(len(lines))]
    if forwarded < len(lines):
        keep[forwarded:] = [True] * (len(lines) - forwarded)
    _join_wrapped_quotes(lines, end)
    runs = _quote_runs(lines, end)
    if not runs:
        return keep

    own = [0]  # own[k]: how many of lines[:k] are the person's own text
    for line in lines:
        own.append(own[-1] + (not line.quoted and bool(line.text.strip())))

    def own_text(a: int, b: int) -> bool:
        return own[b] > own[a]

    forward = next((r for r in runs if _forward_run(lines, r)), None)
    if forward is not None:  # a forwarded message, quoted by its client: it stays, and all after
        runs = [r for r in runs if r[0] < forward[0]]
        end = forward[0]
    answered = [r for r in runs if own_text(r[1], end)]
    trailing = [r for r in runs if not own_text(r[1], end)]
    if (
        runs
        and runs[-1] not in trailing
        and own_text(0, runs[-1][0])
        and _only_signature(lines, runs[-1][1], end)
    ):
        trailing.append(runs[-1])  # the quote, then the person's sign-off below it
    for a, b in trailing:
        keep[a:b] = [False] * (b - a)
    if len(answered) == 1 and answered[0] not in trailing and not own_text(0, answered[0][0]):
        a, b = answered[0]  # bottom-posted: the quote first, the answer below it
        keep[a:b] = [False] * (b - a)
    for a, _ in runs:  # interleaved: the quoted lines stay, their attribution goes
        k = a
        while k < len(lines) and not lines[k].quoted:
            keep[k] = False
            k += 1
    if not any(keep[k] and lines[k].text.strip() for k in range(len(lines))):
        return [True] * len(lines)
    return keep


def _forward_run(lines: list[Line], run: tuple[int, int]) -> bool:
    """The run is a forwarded message (its first line is a forward separator)."""
    first = next((k for k in range(*run) if lines[k].text.strip()), None)
    return first is not None and _FORWARD.match(lines[first].text) is not None


_SIGN_OFF = re.compile(
    r"(?i)^\s*(?:--|(?:best|kind|warm|many)?\s*(?:regards|wishes)|thanks?(?:\s+you)?|thx|cheers|"
    r"best|br|sincerely|yours|mit\s+freundlichen\s+grüßen|(?:viele|liebe|beste)?\s*grüße|gruß|mfg|"
    r"cordialement|bien\s+à\s+vous|saludos|un\s+saludo|atentamente|saluti|cordiali\s+saluti|"
    r"groeten|met\s+vriendelijke\s+groet|pozdrawiam|pozdrav|s\s+pozdravem|с\s+уважением|"
    r"спасибо|с\s+наилучшими|hälsningar|mvh|med\s+vänlig\s+hälsning|terveisin|"
    r"üdvözlettel|saygılarımla|atenciosamente|abraços)\b[\w ,.!]{0,40}$"
)


def _only_signature(lines: list[Line], start: int, end: int) -> bool:
    """Below a quote there is only the person's sign-off or "-- " signature (placed below the
    quote by their client): at most six lines, the first a sign-off."""
    k = start
    while k < end and not lines[k].text.strip():
        k += 1
    if k >= end or not (lines[k].text.strip() == "--" or _SIGN_OFF.match(lines[k].text)):
        return False
    return sum(1 for j in range(k, end) if lines[j].text.strip()) <= 6


def _text_lines(text: str) -> list[Line]:
    return [Line(t, quoted=t.lstrip(" ").startswith(">")) for t in text.split("\n")]


def _join(lines: list[Line], keep: list[bool]) -> str:
    kept = [line.text.rstrip() for line, k in zip(lines, keep, strict=True) if k]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip("\n").strip()


def extract_reply(text: str, forward: bool = False) -> str:
    """What the person wrote in a plain-text message. Returns the whole text if nothing is left."""
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n")
    lines = _text_lines(text)
    reply = _join(lines, _keep_mask(lines, forward))
    return reply if reply else text.strip()


# -- HTML ---------------------------------------------------------------------------------
def _attr(attrs: list, name: str) -> str:
    for key, value in attrs:
        if key == name:
            return (value or "").lower()
    return ""


# Elements whose content is quoted history (all of it), by class or id.
_QUOTE_CLASSES = re.compile(
    r"gmail_quote|yahoo_quoted|protonmail_quote|tutanota_quote|zmail_extra\b|"
    r"moz-cite-prefix|mail-quote|quoted-text|quote_container|x_gmail_quote|ms-outlook-mobile-reference"
)
# Elements that start the quoted history (it is after them, not inside).
_HEADER_IDS = re.compile(
    r"divrplyfwdmsg|appendonsend|stopspelling|olk_src_body_section|zwchr|"
    r"mail-editor-reference-message-container|x_divrplyfwdmsg"
)


class _HtmlLines(HtmlRenderer):
    """The rendered lines of an HTML body, with their source offsets and quote marks."""

    def __init__(self, source: str):
        super().__init__()
        self.source = source
        self.meta: list[Line] = []
        self._stack: list[tuple[str, bool, bool]] = []  # (tag, a quote element, a bare one)
        self._quote_depth = 0
        self._weak_depth = 0
        self._open: dict[str, int] = {}  # tag → how many are open in _stack
        self.depth = 0  # the deepest nesting seen
        self._candidate: int | None = None  # where the next line starts in the source
        self._hard = False
        self._rule = False
        self._weak: set[int] = set()  # lines inside a bare <blockquote>
        self.hidden: list[list[int]] = []  # [start, end] of <head> and <title> in the source
        self._hidden_tag = ""

    def handle_starttag(self, tag, attrs):
        if tag in ("head", "title") and not self._hidden:
            self.hidden.append([self._offset(), -1])
            self._hidden_tag = tag
        super().handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        if self.hidden and self.hidden[-1][1] < 0 and tag == self._hidden_tag:
            end = self.source.find(">", self._offset())
            self.hidden[-1][1] = end + 1 if end >= 0 else len(self.source)
        self._end_element(tag)

    def _offset(self) -> int:
        return self.pos

    def element(self, tag, attrs, start):
        if not start:
            return
        if self._candidate is None and (self._pending or not self._cur):
            self._candidate = self._offset()
        if tag == "hr":
            self._rule = True
            if _HEADER_IDS.search(_attr(attrs, "id")):
                self._hard = True
        if tag == "br" or tag in ("img", "meta", "link", "input", "wbr", "hr"):
            return
        ident = _attr(attrs, "id")
        classes = _attr(attrs, "class")
        quote = False
        weak = False
        if _HEADER_IDS.search(ident) or "outlookmessageheader" in classes:
            self._hard = True
        elif _QUOTE_CLASSES.search(classes) or _QUOTE_CLASSES.search(ident):
            quote = True
        elif tag == "blockquote":
            style = _attr(attrs, "style").replace(" ", "")
            if _attr(attrs, "type") == "cite" or "quote" in classes or "border-left" in style:
                quote = True
            elif "border:none" not in style:
                quote = weak = True  # a quote only if an attribution introduces it
        elif tag == "div" and "border-top:solid" in _attr(attrs, "style").replace(" ", ""):
            self._rule = True  # Outlook's header box: like an <hr> above the header
        self._stack.append((tag, quote, weak))
        self.depth = max(self.depth, len(self._stack))
        self._open[tag] = self._open.get(tag, 0) + 1
        if quote:
            self._quote_depth += 1
            self._weak_depth += weak

    def _end_element(self, tag):
        super().handle_endtag(tag)
        if not self._open.get(tag):
            return
        while self._stack:
            t, quote, weak = self._stack.pop()
            self._open[t] -= 1
            if quote:
                self._quote_depth -= 1
                if weak:
                    self._weak_depth -= 1
            if t == tag:
                break

    def handle_data(self, data):
        if self._candidate is None and (self._pending or not self._cur) and data.strip():
            self._candidate = self._offset()
        super().handle_data(data)

    def line_started(self):
        # Lines that ended before this one: br and blank lines have no text of their own.
        start = self._candidate if self._candidate is not None else self._offset()
        while len(self.meta) < len(self.lines):
            self.meta.append(Line("", start=start))
        line = Line("", quoted=self._quote_depth > 0, hard=self._hard, rule=self._rule, start=start)
        if self._weak_depth and self._quote_depth == self._weak_depth:
            self._weak.add(len(self.meta))
        self.meta.append(line)
        self._candidate = None
        self._hard = False
        self._rule = False

    def result(self) -> list[Line]:
        while len(self.meta) < len(self.lines):
            self.meta.append(Line("", start=len(self.source)))
        for line, text in zip(self.meta, self.lines, strict=False):
            line.text = text
            if text.lstrip(" ").startswith(">"):
                line.quoted = True  # quoted with "&gt;" in the HTML (Hotmail, plain-text replies)
        # A bare <blockquote> is a quote only when an attribution introduces it.
        i = 0
        n = len(self.meta)
        while i < n:
            if i not in self._weak:
                i += 1
                continue
            j = i
            while j < n and (j in self._weak or not self.meta[j].text.strip()):
                j += 1
            k = i - 1
            while k >= 0 and not self.meta[k].text.strip():
                k -= 1
            introduced = k >= 0 and any(
                _attribution_at(self.meta, k - m + 1) == m for m in (1, 2, 3, 4) if k - m + 1 >= 0
            )
            if not introduced:
                for m in range(i, j):
                    if m in self._weak:
                        self.meta[m].quoted = False
            i = j
        return self.meta


_DEEPEST = 400  # HTML nested deeper is not shown (sanitising it would take seconds): its text is


def _html_lines(raw_html: str) -> tuple[list[Line], list | None]:
    """The lines of an HTML body, and the spans of its <head> and <title> (None: too deep to
    show as HTML)."""
    scanner = _HtmlLines(raw_html)
    scanner.feed(raw_html)
    scanner.close()
    if scanner.depth > _DEEPEST:
        return scanner.result(), None
    return scanner.result(), scanner.hidden


def _cut_html(raw_html: str, lines: list[Line], keep: list[bool], hidden) -> str:
    """The source without the spans of the lines not kept (nor its <head> and <title>)."""
    spans = [(a, b if b >= 0 else len(raw_html)) for a, b in hidden]
    n = len(lines)
    i = 0
    while i < n:
        if keep[i]:
            i += 1
            continue
        j = i
        while j < n and not keep[j]:
            j += 1
        spans.append((lines[i].start, lines[j].start if j < n else len(raw_html)))
        i = j
    parts = []
    pos = 0
    for start, stop in sorted(spans):
        if start > pos:
            parts.append(raw_html[pos:start])
        pos = max(pos, stop)
    parts.append(raw_html[pos:])
    return "".join(parts)


_WORD = re.compile(r"\w{3,}")


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _html_matches(reply: str, removed: str, html_text: str) -> bool:
    """The cut HTML shows the reply's words and none of the history the text lost."""
    shown = set(_WORD.findall(html_text.lower()))
    wanted = set(_WORD.findall(reply.lower()))
    if wanted and len(wanted & shown) < 0.85 * len(wanted):
        return False
    gone = set(_WORD.findall(removed.lower())) - wanted
    return not gone or len(gone & shown) <= 0.1 * len(gone)


def extract(text: str, html: str, subject: str = "") -> tuple[str, str]:
    """(what the person wrote, as text; the same as sanitised HTML) given the message's text and
    its unsanitised HTML (sanitising first would strip the class names that mark quotes).

    When the text part exists it decides the text; an HTML-only message's text is the cut HTML
    rendered. The HTML is dropped when its cut does not match the text's. With the subject, a
    forward ("Fwd:", "WG:"…) is kept whole even where its body looks like a reply's (Outlook).
    """
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n")
    html = html or ""
    forward = bool(subject) and _FORWARD_SUBJECT.match(subject) is not None
    if not html.strip():
        return extract_reply(text, forward), ""
    lines, hidden = _html_lines(html)
    keep = _keep_mask(lines, forward)
    rendered = "\n".join(line.text for line in lines)
    html_only = not text.strip() or _html_only(text, rendered, html)
    cut = _cut_html(html, lines, keep, hidden or [])
    if html_only:
        reply = _join(lines, keep) or rendered.strip()  # nothing visible: "" (images only)
        return reply, sanitize_html(cut) if hidden is not None else ""
    reply = extract_reply(text, forward)
    kept = _join(lines, keep)
    removed = "\n".join(line.text for line, k in zip(lines, keep, strict=True) if not k)
    if reply != text.strip():
        removed = f"{removed}\n{text}"  # the words of the text that are not in the reply
    if hidden is None or not _html_matches(reply, removed, kept):
        return reply, ""
    return reply, sanitize_html(cut)


# Elements whose rendering sanitising changes: their text is kept, or their line breaks lost.
_SANITISER_CHANGES = re.compile(
    r"(?i)<(?:title|noscript|template|xml|center|section|article|header|footer|main|nav|aside|"
    r"form|fieldset|caption|figure|figcaption|address|details|summary|legend|option|dl|dt|dd)\b"
)


def _html_only(text: str, rendered: str, html: str) -> bool:
    """The text is the HTML's rendering (mail.parse renders HTML-only mail into the text)."""
    if text.strip() == rendered.strip():
        return True
    a, b = _squash(text), _squash(rendered)
    if not a.endswith(b) or len(a) - len(b) > 300 or not _SANITISER_CHANGES.search(html):
        return False
    # Render as mail.parse does (sanitising keeps the text of <title>, drops unknown tags).
    return text.strip() == html_to_text(sanitize_html(html)).replace("\x00", "").strip()
