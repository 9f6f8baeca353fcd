"""feedguard service: domain model, pipeline, registries, storage, API and CLI."""
