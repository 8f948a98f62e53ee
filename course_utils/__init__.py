"""course_utils: the companion package of the hands-on Hugging Face course.

One import gives the helpers the notebooks share::

    import course_utils as cu
    env = cu.setup(seed=0)                      # prints device, profile, versions, Hub or stand-ins
    ckpt = cu.resolve_checkpoint(cu.ENCODER)    # canonical name online, stand-in offline
    emotion = cu.load_emotion()

Importing it has no side effects: nothing is downloaded, mounted or configured until called.
"""

from . import check
from .data import EMOTION_LABELS, load_emotion
from .env import (
    Environment,
    by_profile,
    get_device,
    get_profile,
    hub_available,
    hub_status,
    in_ci,
    in_colab,
    seed_everything,
    setup,
)
from .logs import show_warnings
from .models import (
    BGE_EMBEDDER,
    BGE_RERANKER,
    CAUSAL_LM,
    EMBEDDER,
    ENCODER,
    SENTIMENT,
    checkpoint_source,
    quick_scale,
    resolve_checkpoint,
)
from .paths import cache_dir

__version__ = "0.1.0"

__all__ = [
    "BGE_EMBEDDER",
    "BGE_RERANKER",
    "CAUSAL_LM",
    "EMBEDDER",
    "EMOTION_LABELS",
    "check",
    "ENCODER",
    "SENTIMENT",
    "Environment",
    "by_profile",
    "cache_dir",
    "checkpoint_source",
    "get_device",
    "get_profile",
    "hub_available",
    "hub_status",
    "in_ci",
    "in_colab",
    "load_emotion",
    "quick_scale",
    "resolve_checkpoint",
    "seed_everything",
    "setup",
    "show_warnings",
]
