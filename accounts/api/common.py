"""What the views of the accounts API share: the portal's base view, a card's history
(the staff's and the holder's), and path parameters."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions as drf_exceptions
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

from accounts.api.authentication import CardholderBasicAuthentication, IsCardholder
from accounts.api.serializers import PostingOutput, StaffPostingOutput
from accounts.hooks import CardRecord, CardRecordList, card_records
from accounts.models import Card, Cardholder
from accounts.selectors import card_postings, cardholder_for_user
from core.api.authentication import TokenWithRolesAuthentication
from core.api.serializers import PeriodQuery, QuerySerializer, query_values
from core.api.views import JSONBodyParser, query_params
from core.pagination import PageQuery, Pagination


class PortalAPIView(APIView):
    """The cardholder portal under /api/v1/me: a holder's token, or HTTP Basic with the
    holder's number and password. `self.holder` is the caller."""

    authentication_classes = [TokenWithRolesAuthentication, CardholderBasicAuthentication]
    permission_classes = [IsCardholder]
    parser_classes = [JSONBodyParser]
    holder: Cardholder

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        holder = cardholder_for_user(request.user)
        assert holder is not None  # IsCardholder has let the request in
        self.holder = holder


# --- A card's history: postings and terminal records -----------------------------------


class HistoryQuery(QuerySerializer, PeriodQuery):
    """`?from=&to=` of a card's history (given once each, no NUL); `page` and `page_size`
    are read by the pagination (core.pagination.PageQuery). A bad value of any is a 400
    `invalid_request` naming the parameter; a page past the last one is a 404."""


class MerchantRefOutput(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()

    class Meta:
        ref_name = "MerchantRef"


class CardRecordOutput(serializers.Serializer):
    """One accepted terminal record of the card, as its holder sees it."""

    type = serializers.CharField(help_text="purchase, load, door or punch")
    terminal_id = serializers.CharField()
    terminal_seq = serializers.IntegerField()
    terminal_name = serializers.CharField()
    merchant = MerchantRefOutput(allow_null=True, help_text="the till's merchant (purchases)")
    ts = serializers.DateTimeField(allow_null=True,
                                   help_text="when it happened, by the terminal's clock")
    received_at = serializers.DateTimeField(help_text="when the server received it")
    card_seq = serializers.IntegerField(allow_null=True, help_text="purse records")
    purse = serializers.CharField(allow_null=True)
    amount = serializers.IntegerField(allow_null=True, help_text="fen, above 0")
    balance_before = serializers.IntegerField(allow_null=True,
                                              help_text="the purse on the card before")
    balance_after = serializers.IntegerField(allow_null=True,
                                             help_text="the purse on the card after")
    source = serializers.CharField(  # type: ignore[assignment]  # a field, not Field.source
        allow_null=True,
        help_text="loads: top_up, subsidy, replacement, correction, or cash (taken by the "
                  "terminal)")
    posting = serializers.IntegerField(
        allow_null=True, help_text="the id of the ledger posting it made, among `results`")
    door = serializers.IntegerField(allow_null=True)
    result = serializers.CharField(allow_null=True, help_text="door: granted or denied")
    reason = serializers.CharField(allow_null=True, help_text="door: why it was denied")
    direction = serializers.CharField(allow_null=True, help_text="door: entry or exit")

    class Meta:
        ref_name = "PortalCardRecord"


class StaffCardRecordOutput(CardRecordOutput):
    load_id = serializers.CharField(allow_null=True, help_text="loads of a pending load")
    flags = serializers.ListField(
        child=serializers.CharField(),
        help_text="accepted but looked wrong at ingest (clock_skew, purse_shortfall, ...)")

    class Meta:
        ref_name = "CardRecord"


class CardHistoryOutput(serializers.Serializer):
    """The page envelope of the card's postings (count, next, previous, results), with
    the card's records beside them, paged alike (see `CardHistoryPagination`)."""

    count = serializers.IntegerField(help_text="postings in the period")
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = PostingOutput(many=True, help_text="ledger postings, newest first")
    records_count = serializers.IntegerField(help_text="records in the period")
    records = CardRecordOutput(many=True,
                               help_text="accepted terminal records, newest first by arrival")

    class Meta:
        ref_name = "PortalCardHistory"


class StaffCardHistoryOutput(CardHistoryOutput):
    results = StaffPostingOutput(many=True, help_text="ledger postings, newest first")
    records = StaffCardRecordOutput(
        many=True, help_text="accepted purchase and load records, newest first by arrival")

    class Meta:
        ref_name = "CardHistory"


HISTORY_DESCRIPTION = (
    "The card's ledger postings (`results`, counted by `count`) and its accepted terminal "
    "records (`records`, counted by `records_count`; rejected and conflicting records are "
    "never listed), each newest first. `from`/`to` bound both by the server's clock: a "
    "posting by when it was made, a record by when it arrived (`received_at`; `ts` is the "
    "terminal's own clock). `page` and `page_size` page both lists alike: page n holds the "
    "n-th page of each, the history has as many pages as the longer list needs, and past "
    "the end of the shorter one its list is empty. A record that moved money names its "
    "posting (`posting`). The card office sees purchase and load records; the holder, on "
    "/api/v1/me, sees their door and punch records too.")

HISTORY_PARAMETERS: list[OpenApiParameter | type[serializers.Serializer]] = [
    OpenApiParameter("from", str, description="YYYY-MM-DD or an ISO 8601 date-time (inclusive)"),
    OpenApiParameter("to", str, description="YYYY-MM-DD (that whole day) or an ISO 8601 "
                                            "date-time (exclusive)"),
    PageQuery,
]


@dataclass
class HistoryPage:
    postings: Sequence[Any]
    postings_count: int
    records: Sequence[CardRecord]
    records_count: int
    next: str | None
    previous: str | None


class CardHistoryPagination(Pagination):
    """A card's history pages two lists with the same `page` and `page_size`: page n
    holds the n-th page of the postings (`results`, counted by `count`) and the n-th page
    of the records (`records`, counted by `records_count`), each newest first in the
    period. The history has as many pages as the longer list needs; past the end of
    the shorter one its list is empty. `next` and `previous` walk those pages; a page
    after the last answers 404, as on every list."""

    def paginate_history(self, *, request: Request, postings: QuerySet[Any],
                         records: CardRecordList) -> HistoryPage:
        self.asked = query_values(PageQuery, request.query_params,
                                  context={"max_page_size": self.max_page_size})
        page, size = self.get_page_number(request, None), self.get_page_size(request)
        postings_count, records_count = postings.count(), records.count()
        pages = max(1, -(-postings_count // size), -(-records_count // size))
        if page > pages:
            raise drf_exceptions.NotFound(self.invalid_page_message)
        window = slice((page - 1) * size, page * size)
        url = request.build_absolute_uri()
        return HistoryPage(
            postings=list(postings[window]) if window.start < postings_count else [],
            postings_count=postings_count,
            records=records[window] if window.start < records_count else [],
            records_count=records_count,
            next=replace_query_param(url, self.page_query_param, page + 1)
            if page < pages else None,
            previous=None if page == 1 else (
                remove_query_param(url, self.page_query_param) if page == 2
                else replace_query_param(url, self.page_query_param, page - 1)),
        )


def card_history(*, request: Request, card: Card, output: type[CardHistoryOutput],
                 types: Collection[str] | None) -> Response:
    """The card's ledger postings and its accepted terminal records of `types` (None:
    every type) in the period, one page of each."""
    period = query_params(HistoryQuery, request)
    since, until = period.get("from"), period.get("to")
    history = CardHistoryPagination().paginate_history(
        request=request, postings=card_postings(card, since=since, until=until),
        records=card_records(card, since=since, until=until, types=types),
    )
    body = output({
        "count": history.postings_count, "next": history.next, "previous": history.previous,
        "results": history.postings, "records_count": history.records_count,
        "records": history.records,
    }, context={"cardholder_id": card.cardholder_id})
    return Response(body.data)


# Path parameters. Explicit patterns type them in the schema and keep odd values out.
CARD_NO = r"(?P<card_no>[0-9]{8,19})"
NUMBER = r"(?P<number>[^/\x00-\x1f]{1,32})"
