"""Evolis card printers: the command protocol, panels, the driver and its emulator."""
