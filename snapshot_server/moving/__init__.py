"""Moving snapshots between stores: ``snapshot-server cleanup``, ``export``, ``import`` and
``migrate`` (README, "Operating it").

Modules: ``exchange`` (the export file: one JSON line per snapshot between a header and a
trailer), ``copying`` (putting snapshots into a store: copied, skipped, expired or failed, each
read back), ``checkpoint`` (where an interrupted ``migrate`` resumes), ``progress`` (a bar on a
terminal, plain lines otherwise), ``commands`` (the subcommands; the stores come from an opener
the composition root hands in, as ``create_app`` gets one).
"""
