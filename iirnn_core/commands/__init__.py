"""The ``iirnn`` sub-commands: each module has ``add_parser(subparsers)`` and sets ``run(args)``.

They run in the command's own process (the CLI, in a terminal): they parse, call the library
below them, and print one line per problem (exit 2 for usage, 1 for a failure), never a traceback.
"""
