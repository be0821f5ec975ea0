"""Staff passwords are stored with Argon2 under the real settings (the suite speeds them up elsewhere)."""

from django.contrib.auth import get_user_model


def test_production_hasher_is_argon2(settings, db):
    from backend import settings as project_settings

    settings.PASSWORD_HASHERS = project_settings.PASSWORD_HASHERS
    user = get_user_model().objects.create_user(username="hashcheck", password="a-long-enough-secret")
    assert user.password.startswith("argon2$")
    assert user.check_password("a-long-enough-secret")
    assert not user.check_password("a-long-enough-secreT")
