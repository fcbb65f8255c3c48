from django.apps import AppConfig


class OneCardConfig(AppConfig):
    name = "onecard"
    verbose_name = "OneCard"
