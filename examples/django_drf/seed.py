"""`python -m examples.django_drf.seed`: migrate the SQLite file, create user ada, print her DRF token.

Prints one JSON line: `{"username": "ada", "password": ..., "token": ...}`. Idempotent.
"""

from __future__ import annotations

import json
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django_drf.settings")

import django

PASSWORD = "example-password"


def main() -> None:
    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    call_command("migrate", verbosity=0, interactive=False)
    user, created = User.objects.get_or_create(username="ada", defaults={"first_name": "Ada", "last_name": "Lovelace"})
    if created:
        user.set_password(PASSWORD)
        user.save()
    token, _ = Token.objects.get_or_create(user=user)
    print(json.dumps({"username": user.username, "password": PASSWORD, "token": token.key}))


if __name__ == "__main__":
    main()
