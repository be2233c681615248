from django.urls import path

from accounts import people, views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("sign-in/", views.SignInView.as_view(), name="login"),
    path("sign-out/", views.SignOutView.as_view(), name="logout"),
    path("password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("audit/", views.audit_events, name="audit_events"),
    path("people/", people.people, name="people"),
    path("people/<int:pk>/", people.person, name="person"),
    path("api-keys/", people.api_keys, name="api_keys"),
    path("api-keys/<int:pk>/revoke", people.revoke_api_key, name="api_key_revoke"),
]
