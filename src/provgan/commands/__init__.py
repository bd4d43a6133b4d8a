"""Small CLI subcommands that do not belong to a bigger subsystem."""
