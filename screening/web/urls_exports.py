"""Export pages (issue #8), in the ``web`` namespace."""

from django.urls import URLPattern, path

from screening.web import export_pages

urlpatterns: list[URLPattern] = [
    path("exports/", export_pages.export_list, name="exports"),
    path("exports/new/<str:kind>/", export_pages.export_request, name="export-request"),
    path("exports/<uuid:public_id>/", export_pages.export_job_row, name="export-job"),
    path("exports/<uuid:public_id>/download/", export_pages.export_download, name="export-download"),
]
