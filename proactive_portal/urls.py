from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "Проактивный портал: сотрудники ведомств"
admin.site.site_title = "Проактивный портал"
admin.site.index_title = "Управление"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("notifications.urls")),
    path("", include("cabinet.urls")),
]
