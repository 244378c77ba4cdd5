"""Renderers and exporters of analysis results (NumPy, Parquet, Markdown, JSON)."""
