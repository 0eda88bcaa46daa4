"""Small, plain network building blocks and training helpers shared by the bundled GAN stainers.

Importing this package imports torch; stainer modules import it inside their methods so that the
CLI starts without torch.
"""

from .crops import CropSampler
from .discriminators import GlobalDiscriminator, PatchDiscriminator
from .pool import ImagePool
from .resnet import ResnetGenerator
from .sizing import pad_to_multiple, upsample
from .training import check_finite, linear_decay_scheduler
from .unet import UNet

__all__ = [
    "CropSampler",
    "GlobalDiscriminator",
    "ImagePool",
    "PatchDiscriminator",
    "ResnetGenerator",
    "UNet",
    "check_finite",
    "linear_decay_scheduler",
    "pad_to_multiple",
    "upsample",
]
