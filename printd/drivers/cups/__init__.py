"""Card printers behind CUPS: the driver, the IPP client, status, evidence rules and rendering."""
