from django.contrib import admin
from django.http import HttpResponse
from django.urls import include, path

from .admin_base import PortalAdminSite

# Officials sign in to the admin with a password and a one-time code, and
# what they see of citizens' data is written to the access log.
admin.site.__class__ = PortalAdminSite

admin.site.site_header = "Проактивный портал: сотрудники ведомств"
admin.site.site_title = "Проактивный портал"
admin.site.index_title = "Управление"


def health(request):
    """A bare page: no session, no database. Load balancers poll it, and the
    cabinet benchmark measures the server's ceiling with it."""
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("health/", health, name="health"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    # The cabinet's pages first: they are most of the traffic, and Django
    # tries the patterns in order on every request.
    path("", include("cabinet.urls")),
    path("", include("offers.urls")),
    path("", include("notifications.urls")),
]
