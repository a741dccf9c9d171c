"""The login flow and the account pages (no namespace: `login` and `logout` are Django's names). The admin's
login and logout are the same views, so the admin has the same two factors, limits and audit."""

from django.urls import path

from gridgov.accounts import auth_views

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("login/verify/", auth_views.login_verify, name="login-verify"),
    path("login/enrol/", auth_views.login_enrol, name="login-enrol"),
    path("login/password/", auth_views.login_password, name="login-password"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/password/", auth_views.password_change, name="password-change"),
    path("admin/login/", auth_views.LoginView.as_view(), name="admin-login"),
    path("admin/logout/", auth_views.LogoutView.as_view(), name="admin-logout"),
    path("admin/password_change/", auth_views.password_change, name="admin-password-change"),
]
