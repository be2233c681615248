from django.urls import path

from portal import account, activity, audit, flags, inspections, lookup, people, reports, uploads

app_name = "portal"

urlpatterns = [
    path("", account.home, name="home"),
    path("sign-in/", account.SignInView.as_view(), name="login"),
    path("sign-out/", account.SignOutView.as_view(), name="logout"),
    path("password/", account.PasswordChangeView.as_view(), name="password_change"),
    path("audit/", audit.audit_events, name="audit_events"),
    path("people/", people.people, name="people"),
    path("people/<int:pk>/", people.person, name="person"),
    path("api-keys/", people.api_keys, name="api_keys"),
    path("api-keys/<int:pk>/revoke", people.revoke_api_key, name="api_key_revoke"),
    path("reports/", reports.report_list, name="report_list"),
    path("reports/<int:pk>/", reports.report_detail, name="report_detail"),
    path("institutions/", activity.institutions, name="institutions"),
    path("query/", lookup.query, name="query"),
    path("flags/", flags.flags, name="flags"),
    path("flags/new/", flags.new_flag, name="new_flag"),
    path("flags/<int:pk>/", flags.flag_detail, name="flag_detail"),
    path("uploads/", uploads.uploads, name="uploads"),
    path("uploads/<int:pk>/", uploads.upload_detail, name="upload_detail"),
    path("inspections/", inspections.inspections, name="inspections"),
    path("inspections/<int:pk>/", inspections.inspection_detail, name="inspection_detail"),
    path("identifiers/phones.json", lookup.phone_lengths, name="phones"),
]
