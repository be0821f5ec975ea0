"""The access policy's edges: class-limited counsellors, classes of other schools, dated memberships."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from screening.directory.models import Membership, SchoolClass, Student
from tests.conftest import make_staff


def visible_numbers(user) -> list[str]:
    user.__dict__.pop("_xinqiao_principal", None)  # the principal is cached per request
    return sorted(Student.objects.visible_to(user).values_list("number", flat=True))


def test_a_class_limited_counsellor_whose_classes_are_all_gone_sees_nobody(cast):
    old = SchoolClass.objects.create(school=cast.dongshan, school_year=2020, grade=7, name="old class")
    Membership.objects.filter(user=cast.carol).get().classes.set([old])
    assert visible_numbers(cast.carol) == []
    old.delete()  # tidying old classes must not turn a class limit into the whole school
    assert visible_numbers(cast.carol) == []


def test_a_class_of_another_school_on_a_membership_grants_nothing(cast):
    Membership.objects.get(user=cast.carol).classes.add(cast.xs_10_1)
    assert visible_numbers(cast.carol) == ["D0001"]
    cast.carol.__dict__.pop("_xinqiao_principal", None)
    assert not SchoolClass.objects.visible_to(cast.carol).filter(pk=cast.xs_10_1.pk).exists()


def test_a_whole_school_counsellor_is_not_narrowed_by_a_stray_class(cast):
    Membership.objects.get(user=cast.alice).classes.add(cast.ds_7_1)  # classes ignored unless limited
    assert visible_numbers(cast.alice) == ["D0001", "D0002"]


def test_ended_and_future_memberships_see_nothing(cast, django_user_model):
    today = timezone.localdate()
    ended = make_staff(django_user_model, "ended", "counsellor", school=cast.dongshan,
                       starts_on=today - dt.timedelta(days=30), ends_on=today - dt.timedelta(days=1))
    future = make_staff(django_user_model, "future", "counsellor", school=cast.dongshan,
                        starts_on=today + dt.timedelta(days=1))
    assert visible_numbers(ended) == []
    assert visible_numbers(future) == []


def test_class_names_in_pickers_say_which_school_and_year(cast):
    assert cast.dongshan.name in str(cast.ds_7_1) and str(cast.ds_7_1.school_year) in str(cast.ds_7_1)
