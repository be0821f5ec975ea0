from django.urls import path

from screening.web import (
    school_pages,
    student_pages,
    urls_answering,
    urls_campaigns,
    urls_cases,
    urls_exports,
    urls_referrals,
    urls_risk,
    views,
)

app_name = "web"
urlpatterns = [
    path("", views.landing, name="landing"),
    path("login/", views.staff_login, name="staff-login"),
    path("student/login/", views.student_login, name="student-login"),
    path("logout/", views.sign_out, name="logout"),
    path("home/", views.home, name="home"),
    path("students/", student_pages.students, name="students"),
    path("students/<str:public_id>/", student_pages.student_detail, name="student"),
    path("students/<str:public_id>/access-code/", student_pages.student_access_code, name="student-access-code"),
    path("school/roster/", school_pages.roster_upload, name="roster-upload"),
    path("school/roster/<int:pk>/", school_pages.roster_preview, name="roster-preview"),
    path("school/roster/<int:pk>/apply/", school_pages.roster_apply, name="roster-apply"),
    path("school/classes/", school_pages.classes, name="classes"),
    path("school/classes/<int:pk>/access-sheet/", school_pages.class_access_sheet, name="class-access-sheet"),
    path("school/audit/", school_pages.audit_log, name="audit-log"),
]
# Students answering and guardians consenting; heads of centre running campaigns, staff alerts;
# the counsellor workspace; referrals and agreements; the risk models' cards; exports.
urlpatterns += (urls_answering.urlpatterns + urls_campaigns.urlpatterns + urls_cases.urlpatterns
                + urls_referrals.urlpatterns + urls_risk.urlpatterns + urls_exports.urlpatterns)
