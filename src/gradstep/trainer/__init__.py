"""The Trainer: ``loop`` runs it; ``batching``, ``seeding``, ``state``, ``callbacks``
and ``lr_finder`` are its parts."""

from gradstep.trainer.loop import Trainer

__all__ = ["Trainer"]
