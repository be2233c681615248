from django.urls import path

from sharing import portal, portal_filing, portal_inspections

app_name = "sharing"

urlpatterns = [
    path("reports/", portal.report_list, name="report_list"),
    path("reports/<int:pk>/", portal.report_detail, name="report_detail"),
    path("institutions/", portal.institutions, name="institutions"),
    path("query/", portal.query, name="query"),
    path("flags/", portal.flags, name="flags"),
    path("flags/new/", portal_filing.new_flag, name="new_flag"),
    path("flags/<int:pk>/", portal.flag_detail, name="flag_detail"),
    path("uploads/", portal.uploads, name="uploads"),
    path("uploads/<int:pk>/", portal.upload_detail, name="upload_detail"),
    path("inspections/", portal_inspections.inspections, name="inspections"),
    path("inspections/<int:pk>/", portal_inspections.inspection_detail, name="inspection_detail"),
    path("identifiers/phones.json", portal.phone_lengths, name="phones"),
]
