"""Inline images: `cid:` links in a thread entry's HTML pointed at the stored attachments.

The links can only be resolved once the attachments are stored (their URLs carry ids the action
layer assigns), so the ticket page calls this when it renders an entry.
"""

import re
from collections.abc import Callable, Iterable

_CID_SRC = re.compile(r"""(src\s*=\s*["']?)cid:([^"'\s>]+)""", re.I)


def resolve_inline_images(
    html: str, attachments: Iterable, url_for: Callable[[object], str]
) -> str:
    """Replace `src="cid:x"` by the URL of the attachment whose content_id is x.

    `attachments` are Attachment rows of the entry; `url_for(attachment)` gives the address the
    viewer may download it from. Unknown content ids are left alone (the image shows as broken,
    nothing else changes). The HTML is already sanitised; URLs are built by our own code.
    """
    by_cid = {a.content_id.strip("<>"): a for a in attachments if getattr(a, "content_id", "")}
    if not by_cid or "cid:" not in html:
        return html

    def swap(match: re.Match) -> str:
        attachment = by_cid.get(match.group(2))
        if attachment is None:
            return match.group(0)
        return match.group(1) + url_for(attachment)

    return _CID_SRC.sub(swap, html)
