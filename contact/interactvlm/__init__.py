"""Converting and running the published InteractVLM checkpoints beside hoifit's own ContactVLM.

`convert_release` turns a release folder into a hoifit checkpoint folder (stock transformers
LLaVA and SAM plus small heads); `load_interactvlm` loads one; `predict_interactvlm_contact`
predicts body contact on SMPL's 6890 vertices (and object contact on a given mesh) the way the
original does. `is_interactvlm_checkpoint` tells such a folder from a ContactVLM one.
"""

from contact.interactvlm.config import InteractVLMError, is_interactvlm_checkpoint
from contact.interactvlm.convert import convert_release
from contact.interactvlm.model import InteractVLM, load_interactvlm
from contact.interactvlm.predict import InteractVLMContact, predict_interactvlm_contact

__all__ = [
    "InteractVLM",
    "InteractVLMContact",
    "InteractVLMError",
    "convert_release",
    "is_interactvlm_checkpoint",
    "load_interactvlm",
    "predict_interactvlm_contact",
]
