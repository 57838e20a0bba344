"""Pydantic request and response schemas of the API, kept apart from the ORM models."""
