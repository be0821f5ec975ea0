from django.urls import path

from screening.web import views

app_name = "web"
urlpatterns = [
    path("", views.landing, name="landing"),
    path("login/", views.staff_login, name="staff-login"),
    path("student/login/", views.student_login, name="student-login"),
    path("logout/", views.sign_out, name="logout"),
    path("home/", views.home, name="home"),
]
