from screening.directory.models import Student


def test_counsellor_sees_only_own_school(cast):
    seen = set(Student.objects.visible_to(cast.alice).values_list("number", flat=True))
    assert seen == {"D0001", "D0002"}


def test_class_limited_counsellor(cast):
    assert list(Student.objects.visible_to(cast.carol).values_list("number", flat=True)) == ["D0001"]
