"""``python -m app``: open the synth window."""

import sys

from app.main import main

if __name__ == "__main__":  # training's child process (spawn) imports this module: it must not open a window
    sys.exit(main())
