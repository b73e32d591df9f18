"""A Flask app with Flask-Login, logged by reqlog, served by gunicorn as in production:

    gunicorn examples.flask_app:app --workers 2 --bind 127.0.0.1:8001

`app.wsgi_app = RequestLogWSGIMiddleware(app.wsgi_app)` is the whole setup: the route comes from
Flask's URL rule, the user from Flask-Login's `current_user`, and an exception Flask turns into a
500 from its `got_request_exception` signal. Where the logs go is chosen as for every example
(examples/_run.py); `configure()`'s exit hook flushes the last batch when a worker exits.
"""

from __future__ import annotations

from typing import Any

import flask
from flask_login import LoginManager, UserMixin, login_required, login_user

import instrumentation


class User(UserMixin):
    def __init__(self, user_id: str, username: str, full_name: str) -> None:
        self.id = user_id
        self.username = username
        self.full_name = full_name


USERS = {"ada": User("1", "ada", "Ada Lovelace")}

app = flask.Flask(__name__)
app.secret_key = "example-only-not-secret"
login_manager = LoginManager(app)


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return next((user for user in USERS.values() if user.id == user_id), None)


@app.get("/")
def home() -> Any:
    return {"hello": "flask"}


@app.post("/login")
def login() -> Any:
    user = USERS.get(flask.request.form.get("username", ""))
    if user is None or flask.request.form.get("password") != "example-password":
        return {"detail": "bad credentials"}, 400
    login_user(user)
    return {"ok": True}


@app.post("/items/<int:item_id>")
@login_required
def update_item(item_id: int) -> Any:
    return {"id": item_id, **(flask.request.get_json() or {})}


@app.get("/boom")
def boom() -> Any:
    raise RuntimeError("flask failure")


instrumentation.configure(service_name="example-flask")
app.wsgi_app = instrumentation.RequestLogWSGIMiddleware(app.wsgi_app)  # type: ignore[method-assign]
