"""Recurrent backend functions (filled by the recurrent work)."""
__all__: list = []
