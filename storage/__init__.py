"""Persistence: SQLModel tables, repositories, the unit of work and Alembic migrations."""
