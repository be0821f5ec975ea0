"""Staff pages for campaigns, consent and red alerts (issue #4), in the ``web`` namespace."""

from django.urls import URLPattern, path

from screening.web import alert_pages, campaign_pages

urlpatterns: list[URLPattern] = [
    path("school/campaigns/", campaign_pages.campaign_list, name="campaigns"),
    path("school/campaigns/new/", campaign_pages.campaign_new, name="campaign-new"),
    path("school/campaigns/<int:pk>/", campaign_pages.campaign_detail, name="campaign"),
    path("school/campaigns/<int:pk>/completion/", campaign_pages.campaign_completion, name="campaign-completion"),
    path("school/campaigns/<int:pk>/launch/", campaign_pages.campaign_launch, name="campaign-launch"),
    path("school/campaigns/<int:pk>/close/", campaign_pages.campaign_close, name="campaign-close"),
    path("school/campaigns/<int:pk>/guardian-links/", campaign_pages.campaign_guardians_invite, name="campaign-guardians-invite"),
    path("school/campaigns/<int:pk>/classes/<int:class_pk>/", campaign_pages.campaign_class, name="campaign-class"),
    path(
        "school/campaigns/<int:pk>/assignments/<int:assignment_pk>/paper-consent/",
        campaign_pages.paper_consent, name="paper-consent",
    ),
    path("alerts/", alert_pages.alert_list, name="alerts"),
    path("alerts/<int:pk>/", alert_pages.alert_detail, name="alert"),
]
