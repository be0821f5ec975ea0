from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from exports import api as exports_api
from screening.campaigns import api as campaigns_api
from screening.campaigns import api_me as campaigns_me_api
from screening.cases import api as cases_api
from screening.cases import api_measures as cases_measures_api
from screening.core import api as core_api
from screening.directory import api as directory_api
from screening.referrals import api as referrals_api
from screening.referrals import api_agreements
from screening.riskmodels import api as riskmodels_api

router = DefaultRouter()
router.register("regions", directory_api.RegionViewSet, basename="region")
router.register("schools", directory_api.SchoolViewSet, basename="school")
router.register("hospitals", directory_api.HospitalViewSet, basename="hospital")
router.register("classes", directory_api.SchoolClassViewSet, basename="class")
router.register("students", directory_api.StudentViewSet, basename="student")
router.register("memberships", directory_api.MembershipViewSet, basename="membership")
router.register("roster-imports", directory_api.RosterImportViewSet, basename="roster-import")
router.register("audit-events", core_api.AuditEventViewSet, basename="audit-event")
router.register("campaigns", campaigns_api.CampaignViewSet, basename="campaign")
router.register("alerts", campaigns_api.CrisisAlertViewSet, basename="alert")
router.register("assignments", campaigns_api.AssignmentViewSet, basename="assignment")
router.register("me/assignments", campaigns_me_api.MyAssignmentViewSet, basename="my-assignment")
router.register("cases", cases_api.CaseViewSet, basename="case")
router.register("escalations", cases_api.EscalationViewSet, basename="escalation")
router.register("kpis", cases_measures_api.KpiViewSet, basename="kpi")
router.register("risk-models", riskmodels_api.RiskModelViewSet, basename="risk-model")
router.register("risk-scores", riskmodels_api.RiskScoreViewSet, basename="risk-score")
router.register("agreements", api_agreements.AgreementViewSet, basename="agreement")
router.register("sharing-consents", api_agreements.SharingConsentViewSet, basename="sharing-consent")
router.register("referrals", referrals_api.ReferralViewSet, basename="referral")
router.register("exports", exports_api.ExportJobViewSet, basename="export-job")

# A card's pictures are files (no trailing slash), served by the scoped viewset like its other reads.
risk_pictures = [
    path("risk-models/<int:pk>/roc.svg", riskmodels_api.RiskModelViewSet.as_view({"get": "roc"}),
         name="risk-model-roc"),
    path("risk-models/<int:pk>/calibration.svg", riskmodels_api.RiskModelViewSet.as_view({"get": "calibration"}),
         name="risk-model-calibration"),
    path("risk-models/<int:pk>/card.md", riskmodels_api.RiskModelViewSet.as_view({"get": "card_markdown"}),
         name="risk-model-card-md"),
]

api_v1 = [
    path("auth/token/", core_api.TokenView.as_view(), name="auth-token"),
    path("auth/logout/", core_api.LogoutView.as_view(), name="auth-logout"),
    path("me/", core_api.MeView.as_view(), name="me"),
    *risk_pictures,
    *router.urls,
]

urlpatterns = [
    path("api/v1/", include((api_v1, "api"), namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("screening.web.urls")),
]

handler404 = "screening.web.views.not_found"
handler500 = "screening.web.views.server_error"
