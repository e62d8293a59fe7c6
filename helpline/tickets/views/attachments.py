"""Attachment download, shared by the client portal and the agent panel (/attachments/<id>/).

Allowed when the user may view the ticket and either the entry is public or the user works the
ticket as an agent (internal notes' files stay internal), or when the session holds a valid guest
link to the ticket and the entry is public. Anything else is a 404, so an id reveals nothing.
Files are sent as downloads, except images of a few safe types; HTML is never shown inline.
"""

from django.http import FileResponse, Http404

from helpline.tickets import access, guest
from helpline.tickets.models import Attachment

# Shown inline (img preview, opened in a tab); every other type is a download.
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
# Types a browser would run or render as a document: always sent as opaque bytes.
UNSAFE_TYPES = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "image/svg+xml",
        "text/xml",
        "application/xml",
        "text/javascript",
        "application/javascript",
        "application/x-javascript",
    }
)


def _may_download(request, attachment: Attachment) -> bool:
    entry = attachment.entry
    ticket = entry.ticket
    user = request.user
    if user.is_authenticated and access.can_view(user, ticket):
        return entry.is_public or access.can(user, access.Access.SEE_NOTES, ticket)
    if entry.is_public:
        return guest.guest_user(request.session, ticket) is not None
    return False


def download(request, attachment_id: int) -> FileResponse:
    """Send the file of attachment `attachment_id` if the viewer may see it, else 404."""
    attachment = (
        Attachment.objects.select_related("entry__ticket__department", "entry__ticket__requester")
        .filter(pk=attachment_id)
        .first()
    )
    if attachment is None or not _may_download(request, attachment):
        raise Http404("No such attachment.")
    content_type = (attachment.content_type or "").split(";")[0].strip().lower()
    inline = content_type in INLINE_TYPES
    if content_type in UNSAFE_TYPES or not content_type:
        content_type = "application/octet-stream"
    try:
        handle = attachment.file.open("rb")
    except (OSError, ValueError):
        raise Http404("The file is missing from storage.")
    response = FileResponse(
        handle,
        as_attachment=not inline,
        filename=attachment.filename,
        content_type=content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    # Even if a browser did render it, no scripts, no plugins, no same-origin access.
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response
