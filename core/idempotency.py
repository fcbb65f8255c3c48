"""`Idempotency-Key` on POSTs: the first successful answer is stored in the same
transaction as the work it reports, and a retry gets that answer back unchanged.

A concurrent twin (same user, same key) blocks on the unique index until the first
commits (`INSERT ... ON CONFLICT DO NOTHING`), then reads the stored answer; if the
first fails, its row rolls back with it and the twin does the work itself. Errors are
never stored: they change nothing, so a retry may simply run again.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable
from typing import Any, TypeVar, cast

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from core.errors import IdempotencyKeyReused, InvalidRequest
from core.models import IdempotentRequest

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotency-Replayed"
_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")  # printable ASCII, fits the column

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    name=IDEMPOTENCY_HEADER, type=OpenApiTypes.STR, location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "Any unique string up to 128 printable ASCII characters. A retry with the same key "
        "and body gets the first successful answer again (header `Idempotency-Replayed: "
        "true`) and changes nothing; the same key with another body or path answers 422 "
        "`idempotency_key_reused`."
    ),
)

Handler = TypeVar("Handler", bound=Callable[..., Response])


def _part(value: Any) -> Any:
    """How a value JSON cannot write enters the hash: an uploaded file by its name and
    content (two statements under one name are two requests), anything else as text."""
    if isinstance(value, UploadedFile):
        digest = hashlib.sha256()
        for chunk in value.chunks():
            digest.update(chunk)
        value.seek(0)
        return {"file": value.name, "size": value.size, "sha256": digest.hexdigest()}
    return str(value)


def _body_hash(data: Any) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                           default=_part)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _claim(user: Any, key: str, *, method: str, path: str, body_hash: str) -> int | None:
    """The key's row, inserted now (its id), or None if (user, key) is already stored.
    One statement: a twin in flight holds the unique index entry, so the insert waits
    for it to commit (None: its answer is to be replayed) or roll back (ours is
    inserted). No savepoint and no read first: both cost a round trip per request."""
    table = IdempotentRequest._meta.db_table
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO {table} (user_id, key, method, path, body_hash, created_at) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (user_id, key) DO NOTHING "
            "RETURNING id",
            [user.pk, key, method, path, body_hash, timezone.now()],
        )
        row = cur.fetchone()
    return int(row[0]) if row else None


def _stored(user: Any, key: str) -> IdempotentRequest | None:
    return IdempotentRequest.objects.filter(user=user, key=key).first()


def _replay(earlier: IdempotentRequest, *, method: str, path: str, body_hash: str) -> Response:
    if (earlier.method, earlier.path, earlier.body_hash) != (method, path, body_hash):
        raise IdempotencyKeyReused()
    return Response(earlier.response, status=earlier.status_code,
                    headers={REPLAYED_HEADER: "true"})


def idempotent(handler: Handler) -> Handler:
    """Decorate an APIView's `post`; requests without the header run as usual."""

    @functools.wraps(handler)
    def wrapper(view: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(IDEMPOTENCY_HEADER)
        user: Any = request.user
        if key is None or not getattr(user, "pk", None):
            return handler(view, request, *args, **kwargs)
        if not _KEY.match(key):
            raise InvalidRequest(
                _("Idempotency-Key is 1 to 128 printable ASCII characters."),
                field=IDEMPOTENCY_HEADER,
            )
        method = request.method or "POST"
        path = request.path.rstrip("/")[:255]
        body_hash = _body_hash(request.data)  # malformed bodies stop here, before any write
        with transaction.atomic():
            row_id = _claim(user, key, method=method, path=path, body_hash=body_hash)
            if row_id is None:  # answered before, or a twin committed first (we waited)
                earlier = _stored(user, key)
                if earlier is None:
                    raise IntegrityError(f"idempotency key {key!r} neither claimed nor stored")
                return _replay(earlier, method=method, path=path, body_hash=body_hash)
            response = handler(view, request, *args, **kwargs)
            if not 200 <= response.status_code < 300:
                transaction.set_rollback(True)
                return response
            IdempotentRequest.objects.filter(pk=row_id).update(
                status_code=response.status_code,
                response=json.loads(JSONRenderer().render(response.data)))
            return response

    return cast(Handler, wrapper)
