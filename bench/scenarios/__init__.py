"""Generated incidents for measuring accuracy: `generate(seed)` -> Scenario, `write_bundle(scenario, dest)`.

The generator knows the truth (truth.json beside each bundle); the tool reads only the bundle.
"""

from .generate import CAUSES, Scenario, generate
from .write import write_bundle

__all__ = ["CAUSES", "Scenario", "generate", "write_bundle"]
