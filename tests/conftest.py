"""Shared test set-up: Qt runs on the offscreen platform (set before any Qt import)."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
