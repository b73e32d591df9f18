"""A small Django REST Framework app serving request logs, the reference reqlog is compared with.

It is what the original DRF service would be: `RequestLog` with the spec's fields, a
`ModelSerializer` with the nested user, `TokenAuthentication`, "admin, or staff holding 3601",
`RetrieveAPIView` and a `ListAPIView` with `CursorPagination`. `server.py` runs it as a real
process on a port of the test's choosing, over rows the test copied from reqlog.
"""
