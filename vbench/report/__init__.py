"""Leaderboards built from stored results, and their renderings."""

from .leaderboard import Board, build_leaderboard
from .render import FORMATS, render

__all__ = ["Board", "build_leaderboard", "render", "FORMATS"]
