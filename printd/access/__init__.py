"""Who may do what: API tokens, page users and the first-start credentials."""
