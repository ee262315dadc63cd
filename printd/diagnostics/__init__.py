"""Technician diagnostics: remedies table, the diagnostics document, discovery, test card, support bundle."""
