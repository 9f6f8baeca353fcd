"""The HTTP API and the moderator web page (FastAPI)."""
