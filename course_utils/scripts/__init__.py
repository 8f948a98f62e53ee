"""Runnable scripts that notebooks launch, e.g. ``python -m course_utils.scripts.ddp_train --help``."""
