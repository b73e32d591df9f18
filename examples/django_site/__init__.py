"""A minimal Django project served over ASGI and instrumented with reqlog.

Run it with uvicorn (see examples/_run.py for the two ways to send the logs):

    uvicorn examples.django_site.asgi:application --port 8001
"""
