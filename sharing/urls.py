from django.urls import path

from sharing import portal

app_name = "reports"

urlpatterns = [
    path("", portal.report_list, name="list"),
    path("<int:pk>/", portal.report_detail, name="detail"),
]
