"""``python -m app``: open the synth window."""

import sys

from app.main import main

sys.exit(main())
