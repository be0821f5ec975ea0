"""Referral pages, in the ``web`` namespace: referring from a case, one referral and each side's
steps, and the school's agreements with hospitals (the liaison's inbox is their home page)."""

from django.urls import URLPattern, path

from screening.web import referral_pages

urlpatterns: list[URLPattern] = [
    path("cases/<int:pk>/consent-to-share/", referral_pages.case_consent, name="case-consent"),
    path("cases/<int:pk>/refer/", referral_pages.case_refer, name="case-refer"),
    path("referrals/<int:pk>/", referral_pages.referral_detail, name="referral"),
    path("referrals/<int:pk>/resend/", referral_pages.referral_resend, name="referral-resend"),
    path("referrals/<int:pk>/<slug:step>/", referral_pages.referral_step, name="referral-step"),
    path("school/agreements/", referral_pages.agreement_list, name="agreements"),
    path("school/agreements/new/", referral_pages.agreement_new, name="agreement-new"),
    path("school/agreements/<int:pk>/", referral_pages.agreement_edit, name="agreement-edit"),
]
