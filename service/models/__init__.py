"""Pathway models: the deployed versions and their engines (`registry`), running a bundle's
cases (`simulate`); `api` is the managers' routes."""
