"""Per-blank identity: chip UIDs at encoding, hand-over and destruction, and the desk reader (PC/SC)."""
