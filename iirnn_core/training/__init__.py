"""Training the network: config, kernels, optimizers, the run loop, the trainer's child process.

Training runs in a child process (:mod:`.worker`) or in ``iirnn train``, never in the audio
process, and this package is the only place torch is imported (lazily). The window imports only
:mod:`.config` (plain data) and :mod:`.worker` (starts and talks to the child).
"""
