"""trained: the papers models (Gromov MLP, Rangamani RNN, Nanda/Syrkis transformer), trained fast in torch."""

__all__: list[str] = []
