"""External snapshots, the publishing side: ``external: true`` on create sends the snapshot to
another Grafana-compatible snapshot server (``snapshots.external_snapshot_url``) and keeps only a
pointer here; deleting the pointer deletes the remote copy first.

    settings    what ``check-config`` demands of the ``external_*`` keys
    answers     what a remote's answers must look like before anything of them is trusted
    client      the HTTP client with its safety rules (timeout, no redirects, bounded reads)
    publishing  the hand-off from the service: publish, and delete remotely

Import the modules themselves (``external.publishing``): ``config`` imports ``settings``, so
this package imports nothing on its own.
"""
