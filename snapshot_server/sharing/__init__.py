"""Sharing controls: password-protected snapshots, key rotation, and updates of a snapshot's
name, expiry and password (``PATCH``).

Modules: ``settings`` (``[sharing]``), ``passwords`` (argon2id hashing off the event loop),
``access`` (the signed cookie a right password earns, and the viewer form's CSRF token),
``secret`` (the key that signs both, the same in every worker and across restarts),
``attempts`` (the rate limit on wrong passwords, always on), ``gate`` (who may see a protected
snapshot), ``changes`` (rotate and update, as the service's operations).
"""
