"""snapshot-server: a self-hosted, Grafana-compatible dashboard snapshot service."""

__version__ = "0.1.0"
