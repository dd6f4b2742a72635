"""Microsoft 365 through Microsoft Graph: calendar view, mail metadata, directory, sendMail.

Only this package imports msal and exchangelib (and requests for Graph). Module map:
``settings`` (the ``[source]`` model and its defaults), ``http`` (one routed
session for msal and Graph), ``auth`` (device code, client credentials, the
0600 token cache), ``graph`` (requests: concurrency per mailbox, Retry-After,
401 refresh, links), ``delta`` (delta positions in keyed state),
``calendar``, ``mail``, ``directory``, ``send`` and ``normalize`` (Graph JSON
-> records); ``connector`` wires the sources. ``ews`` (+ ``ews_normalize``) is
the separate ``exchange`` connector for Exchange Server on premises, on exchangelib.
"""
