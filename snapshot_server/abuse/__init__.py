"""Abuse limits: how often, how much and how slowly a client may use the server.

``settings.py`` reads ``[limits]``. Rate limits and per-org caps apply when ``[limits] enabled``
(by default exactly when ``public_mode`` is on); the bounds on slow clients and on upload bytes
in flight always apply.

Modules: ``rates`` (the rate limits, over the ``limits`` library), ``caps`` (the per-org caps,
checked by the service), ``addresses`` (the client address, ``X-Forwarded-For`` from trusted
proxies only), ``storage`` (where the rate limits count: memory, or a storage the composition
root hands in), ``web`` (the checks as the handlers call them).
"""
