"""Sub-commands of ``iirnn``: each module has ``add_parser(subparsers)`` and sets ``run(args)``."""
