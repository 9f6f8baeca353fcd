"""The human review workflow: queue, leases, moderator actions, reports and appeals."""
