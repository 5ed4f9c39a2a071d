"""The registry's documents are not partitioned: one sources.json, one schema.json per source.

A source's own partitions are its folders, one level per dimension of its schema.json; the
migration job copies and verifies them folder by folder (migration.py).
"""
