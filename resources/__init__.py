"""Data shipped with iirnn-synth, installed as the package ``iirnn_core.resources``.

``models/``: trained models (JSON model files, see :mod:`iirnn_core.models.modelfile`), read through
:func:`importlib.resources.files` so they work from a checkout, an editable install or a wheel.
"""
