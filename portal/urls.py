from django.urls import path

from portal import account, filing, inspections, pages, people

app_name = "portal"

urlpatterns = [
    path("", account.home, name="home"),
    path("sign-in/", account.SignInView.as_view(), name="login"),
    path("sign-out/", account.SignOutView.as_view(), name="logout"),
    path("password/", account.PasswordChangeView.as_view(), name="password_change"),
    path("audit/", account.audit_events, name="audit_events"),
    path("people/", people.people, name="people"),
    path("people/<int:pk>/", people.person, name="person"),
    path("api-keys/", people.api_keys, name="api_keys"),
    path("api-keys/<int:pk>/revoke", people.revoke_api_key, name="api_key_revoke"),
    path("reports/", pages.report_list, name="report_list"),
    path("reports/<int:pk>/", pages.report_detail, name="report_detail"),
    path("institutions/", pages.institutions, name="institutions"),
    path("query/", pages.query, name="query"),
    path("flags/", pages.flags, name="flags"),
    path("flags/new/", filing.new_flag, name="new_flag"),
    path("flags/<int:pk>/", pages.flag_detail, name="flag_detail"),
    path("uploads/", pages.uploads, name="uploads"),
    path("uploads/<int:pk>/", pages.upload_detail, name="upload_detail"),
    path("inspections/", inspections.inspections, name="inspections"),
    path("inspections/<int:pk>/", inspections.inspection_detail, name="inspection_detail"),
    path("identifiers/phones.json", pages.phone_lengths, name="phones"),
]
