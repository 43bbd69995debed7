"""Sub-commands of ``smartfolio``: one module each (NAME, HELP, add_arguments, run)."""
