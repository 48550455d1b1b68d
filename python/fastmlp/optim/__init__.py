"""Optimizers with torch.optim's update rules over the model's flat buffers, and their
learning-rate schedules (fastmlp.optim.lr_scheduler, also fastmlp.lr_scheduler)."""
from . import lr_scheduler
from .lr_scheduler import (CosineAnnealingLR, ExponentialLR, LRScheduler, ReduceLROnPlateau,
                           StepLR)
from .optimizers import SGD, Adam, AdamW, Optimizer, RMSprop

__all__ = ["SGD", "Adam", "AdamW", "CosineAnnealingLR", "ExponentialLR", "LRScheduler",
           "Optimizer", "RMSprop", "ReduceLROnPlateau", "StepLR", "lr_scheduler"]
