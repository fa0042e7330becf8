"""Trained models: their files (versioned JSON, validated on load, never pickle) and what plays.

Plain data and checks, in any process (window, CLI, trainer); nothing here touches audio or torch.
"""
