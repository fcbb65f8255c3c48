"""Operations API v1 (operations-api.md). Paths have no trailing slash; one is tolerated."""

from django.urls import URLPattern, re_path

from accounts.api import cardholders, cards, portal, subsidies
from accounts.api.common import CARD_NO, NUMBER

# An optional trailing slash, written so that the schema shows the paths without one.
END = r"(?:/)?$"
CARD = rf"cards/{CARD_NO}"
ME_CARD = rf"me/cards/{CARD_NO}"

urlpatterns: list[URLPattern] = [
    re_path(rf"^cardholders{END}", cardholders.CardholderListView.as_view(), name="cardholders"),
    re_path(rf"^cardholders/import{END}", cardholders.CardholderImportView.as_view(),
            name="cardholder-import"),
    re_path(rf"^cardholders/{NUMBER}/password{END}", cardholders.CardholderPasswordView.as_view(),
            name="cardholder-password"),
    re_path(rf"^cardholders/{NUMBER}{END}", cardholders.CardholderDetailView.as_view(),
            name="cardholder"),
    re_path(rf"^cards{END}", cards.CardListView.as_view(), name="cards"),
    re_path(rf"^{CARD}{END}", cards.CardDetailView.as_view(), name="card"),
    re_path(rf"^{CARD}/personalization{END}", cards.CardPersonalizationView.as_view(),
            name="card-personalization"),
    re_path(rf"^{CARD}/transactions{END}", cards.CardTransactionsView.as_view(),
            name="card-transactions"),
    re_path(rf"^{CARD}/top-up{END}", cards.CardTopUpView.as_view(), name="card-top-up"),
    re_path(rf"^{CARD}/report-loss{END}", cards.CardReportLossView.as_view(),
            name="card-report-loss"),
    re_path(rf"^{CARD}/unlock{END}", cards.CardUnlockView.as_view(), name="card-unlock"),
    re_path(rf"^{CARD}/freeze{END}", cards.CardFreezeView.as_view(), name="card-freeze"),
    re_path(rf"^{CARD}/unfreeze{END}", cards.CardUnfreezeView.as_view(), name="card-unfreeze"),
    re_path(rf"^{CARD}/replace{END}", cards.CardReplaceView.as_view(), name="card-replace"),
    re_path(rf"^{CARD}/cancel{END}", cards.CardCancelView.as_view(), name="card-cancel"),
    re_path(rf"^subsidies{END}", subsidies.SubsidyListView.as_view(), name="subsidies"),
    re_path(rf"^merchants{END}", subsidies.MerchantListView.as_view(), name="merchants"),
    re_path(rf"^me/login{END}", portal.PortalLoginView.as_view(), name="me-login"),
    re_path(rf"^me{END}", portal.MeView.as_view(), name="me"),
    re_path(rf"^me/cards{END}", portal.MeCardListView.as_view(), name="me-cards"),
    re_path(rf"^{ME_CARD}{END}", portal.MeCardDetailView.as_view(), name="me-card"),
    re_path(rf"^{ME_CARD}/transactions{END}", portal.MeCardTransactionsView.as_view(),
            name="me-card-transactions"),
    re_path(rf"^{ME_CARD}/report-loss{END}", portal.MeCardReportLossView.as_view(),
            name="me-card-report-loss"),
]
