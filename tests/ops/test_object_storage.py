"""Attachments in S3-compatible object storage (HELPLINE_S3_BUCKET), against a real S3 API
server on loopback (moto in server mode, started here): stored, downloaded through the access
check, removed on rollback, and a clear 503 when the server is gone."""

import socket

import boto3
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from moto.server import ThreadedMotoServer

from helpline.tickets import actions, files
from helpline.tickets.models import Attachment, Ticket

pytestmark = pytest.mark.django_db
BUCKET = "helpline-attachments"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_server():
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def _options(endpoint: str) -> dict:
    return {
        "bucket_name": BUCKET,
        "endpoint_url": endpoint,
        "region_name": "us-east-1",
        "location": "helpline",
        "default_acl": None,
        "querystring_auth": True,
        "file_overwrite": False,
        "access_key": "test",
        "secret_key": "test",
    }


@pytest.fixture
def bucket(s3_server, settings):
    """A fresh private bucket, and STORAGES pointing at it as HELPLINE_S3_BUCKET would."""
    client = boto3.client(
        "s3",
        endpoint_url=s3_server,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    client.create_bucket(Bucket=BUCKET)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": _options(s3_server)},
    }
    yield client
    objects = client.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    for item in objects:
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


def keys(client) -> list[str]:
    return [o["Key"] for o in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


def test_an_uploaded_file_lives_in_the_bucket_and_downloads_through_the_access_check(
    client, bucket, support_ticket, karen, ken
):
    entry = actions.add_message(
        karen,
        support_ticket,
        "Here is the log.",
        attachments=[actions.NewAttachment("error log.txt", b"error 42\n", "text/plain", "")],
    )
    attachment = entry.attachments.get()
    assert keys(bucket) == [f"helpline/{attachment.file.name}"]
    stored = bucket.get_object(Bucket=BUCKET, Key=keys(bucket)[0])
    assert stored["Body"].read() == b"error 42\n"

    client.force_login(karen)
    response = client.get(f"/attachments/{attachment.pk}/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"error 42\n"
    assert response["Content-Disposition"].startswith("attachment;")
    client.force_login(ken)  # another requester: as if it did not exist
    assert client.get(f"/attachments/{attachment.pk}/").status_code == 404


def test_a_rolled_back_upload_leaves_no_object(bucket, support_ticket, karen):
    with transaction.atomic():
        actions.add_message(
            karen,
            support_ticket,
            "undone",
            attachments=[actions.NewAttachment("a.txt", b"x", "text/plain", "")],
        )
        assert len(keys(bucket)) == 1
        transaction.set_rollback(True)
    assert files.remove_rolled_back() == 1
    assert keys(bucket) == [] and not Attachment.objects.exists()


def test_an_unreachable_object_store_is_a_503_and_nothing_is_saved(
    client, ticket_form, settings, bucket
):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": _options(f"http://127.0.0.1:{_free_port()}"),  # nobody listens there
        },
    }
    log = SimpleUploadedFile("log.txt", b"error 42", content_type="text/plain")
    form = ticket_form(subject="Printer", attachments=[log])
    response = client.post("/tickets/new/", form)
    assert response.status_code == 503
    assert "Attachments cannot be stored right now" in response.content.decode()
    assert not Ticket.objects.exists()


def test_a_backup_leaves_object_storage_to_its_own_backups(bucket, settings):
    """`helpline backup` copies MEDIA_ROOT and lists its files only when attachments live there
    (the round trip in test_backup.py covers that case)."""
    from helpline.ops import _files_in_media_root

    assert not _files_in_media_root()
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    }
    assert _files_in_media_root()
