"""Models: shared encoder/decoder builders, the ``Autoencoder`` base and every reference model."""
from course_utils.models.autoencoders import Autoencoder, ConvAutoencoder, DenseAutoencoder, linear_autoencoder
from course_utils.models.blocks import conv_decoder, conv_encoder, dense_decoder, dense_encoder
from course_utils.models.denoising import ConvDenoiserBase, DenoisingAutoencoder, conv_denoiser
from course_utils.models.regularised import ContractiveAutoencoder, SparseAutoencoder, TopK
from course_utils.models.residual import ResidualUNet
from course_utils.models.superres import (
    DESIGNS,
    BicubicUpsample,
    DepthToSpace,
    ResizeConvSR,
    SubPixelSR,
    SuperResolution,
    TransposedConvSR,
    make_sr_model,
)

__all__ = [
    "DESIGNS", "Autoencoder", "BicubicUpsample", "ContractiveAutoencoder", "ConvAutoencoder", "ConvDenoiserBase",
    "DenoisingAutoencoder", "DenseAutoencoder", "DepthToSpace", "ResidualUNet", "ResizeConvSR", "SparseAutoencoder",
    "SubPixelSR", "SuperResolution", "TopK", "TransposedConvSR", "conv_decoder", "conv_denoiser", "conv_encoder",
    "dense_decoder", "dense_encoder", "linear_autoencoder", "make_sr_model",
]
