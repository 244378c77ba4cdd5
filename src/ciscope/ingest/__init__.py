"""Readers that turn CI sources (run folders, report files, result streams) into ciscope records."""
