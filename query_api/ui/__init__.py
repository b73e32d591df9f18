"""The viewer: request logs in the browser, served by the service itself under `/ui/`.

Server-rendered pages (Jinja2, autoescaped) with a little plain JavaScript from `static/`; sign-in
with a password or an API token into a signed session cookie; the API's own permissions, filters,
pages, stats and SQL sandbox. Its routes are in `app.ROUTES`, its key in `app.LIFECYCLE`
(`rendering.ui_context`); `docs/ui.md` describes it.
"""
