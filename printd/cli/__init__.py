"""The `printd` command line: one module per group of subcommands."""
