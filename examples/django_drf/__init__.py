"""A Django REST Framework API with token, session and JWT authentication, logged by reqlog.

Served under WSGI with gunicorn (the usual production setup) or under ASGI, with one setup:

    python -m examples.django_drf.seed            # migrate the SQLite file, create user ada, print tokens
    gunicorn examples.django_drf.wsgi:application --workers 2 --bind 127.0.0.1:8001
    gunicorn examples.django_drf.asgi:application -k uvicorn_worker.UvicornWorker --bind 127.0.0.1:8001

`DJANGO_DB` names the SQLite file (default `example-drf.sqlite3`); where the logs go is chosen as
for every example (examples/_run.py). Each request is stored with the user that DRF authenticated.
"""
