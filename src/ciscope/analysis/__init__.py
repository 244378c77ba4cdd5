"""Analyses over stored CI history and over TestGrid grids: pass rates, flakes, regressions,
and TestGrid's tab summary (:mod:`ciscope.analysis.grid`). Pure functions; no database driver
is imported here."""
