"""Google Workspace / Gmail: Calendar events, Gmail header metadata, Directory, Gmail send.

Only this package imports google-api-python-client, google-auth and httplib2.
Module map: ``auth`` (installed-app OAuth, service accounts, token files),
``pacing`` (per-user quota bucket and back-off), ``services`` (one HTTP
connection per thread, endpoints), ``batch`` (multipart batches with per-item
re-queue), ``calendar``, ``mail`` (+ ``mail_cursor``, ``known_ids``), ``directory``, ``send``,
``normalize`` (API JSON -> records) and ``connector`` (wires the sources).
"""
