"""Moved: the Colab rehearsal is tests/colab/rehearsal.py, its shared plumbing tools/plumbing.py.

This name remains only for tools/bundle.py's import; remove this file once bundle.py imports from plumbing.
"""

from plumbing import TORCH_VERSION, RehearsalError, copy_checkout, run, torch_requirement
from plumbing import find_uv as _uv

__all__ = ["TORCH_VERSION", "RehearsalError", "_uv", "copy_checkout", "run", "torch_requirement"]
