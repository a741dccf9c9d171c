"""Serializers of the base-data API (`gridgov.people.api`), one module per API module: `records`,
`groups`, `access_log`, `exports`; the fields they share in `fields`."""
