"""The data generator behind `c360 generate` (see generator.py for how it stays deterministic and flat)."""

from c360.datagen.generator import Params, generate

__all__ = ["Params", "generate"]
