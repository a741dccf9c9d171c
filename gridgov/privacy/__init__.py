"""Personal data wherever it is kept: sealing (`crypto`), masking (`masking`), identifier validation
(`identifiers`), who may reveal and the append-only access log (`access`, `models.AccessLog`). Used by
`people`, `cases` and every app that shows or stores a name, an ID number or a phone."""
