"""compare: score trained networks against the closed-form theory (numpy; torch only lazily)."""

__all__: list[str] = []
