"""Abuse limits: how often, how much and how slowly a client may use the server.

``settings.py`` reads ``[limits]``. Rate limits and per-org caps apply when ``[limits] enabled``
(by default exactly when ``public_mode`` is on); the bounds on slow clients and on upload bytes
in flight always apply.
"""
