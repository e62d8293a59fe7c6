from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "helpline.search"
    label = "search"
    verbose_name = "Search"

    def ready(self) -> None:
        from helpline.search import index

        index.connect_signals()
