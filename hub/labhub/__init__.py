"""labhub: a self-hosted, Colab-like multi-user deep-learning lab built on JupyterHub."""

__version__ = "0.1.0"
