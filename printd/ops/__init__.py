"""Running the station: logging, metrics, systemd integration and data retention."""
