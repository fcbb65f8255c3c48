from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    # The door controllers' calls answer from access (terminals may not import it).
    path("api/v1/terminal/", include("access.api.terminal_urls")),
    path("api/v1/terminal/", include("terminals.api.urls")),
    path("", include("terminals.api.admin_urls")),
    path("", include("settlement.api.urls")),
    path("", include("settlement.api.counter_urls")),
    path("", include("settlement.api.settlement_urls")),
    path("", include("settlement.api.bank_urls")),
    path("", include("settlement.api.report_urls")),
    path("", include("access.api.events_urls")),
    path("api/v1/", include("accounts.api.urls")),
    path("api/v1/access/", include("access.api.urls")),
    path("api/v1/attendance/", include("attendance.api.urls")),
]

handler404 = "core.errors.json_not_found"
handler500 = "core.errors.json_server_error"
