"""Rendering results: one column spec per report (reports.py) rendered as a terminal table, CSV or
Markdown (table.py); grids exported as NumPy or Parquet (export.py)."""
