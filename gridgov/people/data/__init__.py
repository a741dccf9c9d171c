"""Small data shipped with the people app (synthetic-data vocabularies)."""
