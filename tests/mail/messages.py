"""Raw test messages built in one call."""


def raw(
    sender="Karen Miller <karen@example.com>",
    subject="Printer broken",
    body="The printer is broken.",
    message_id="<m1@example.com>",
    extra="",
    head="",
):
    """A plain-text message: `extra` headers after the Message-ID, `head` lines before From:
    (where a mail server puts Received: and its spam verdict)."""
    text = f"{head}From: {sender}\r\nTo: help@helpline.example\r\nSubject: {subject}\r\n"
    if message_id:
        text += f"Message-ID: {message_id}\r\n"
    return f"{text}{extra}Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n".encode()
