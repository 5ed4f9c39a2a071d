"""The registry runs no schedule or sensor: it is written when its asset is materialized
(`make dev` does at start; a deployment after a release changes the graph), and a migration
is the `sources_migration` job, launched by hand with the source and its new prefix."""
