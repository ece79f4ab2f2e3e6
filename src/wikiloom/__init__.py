"""wikiloom: human-in-the-loop machine learning for Wikimedia wikis."""

__version__ = "0.1.0"
