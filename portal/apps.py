from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The portal's pages, forms, templates and static files; it has no models of its own."""

    name = "portal"
