"""Models: shared encoder/decoder builders, the ``Autoencoder`` base and every reference model."""
from course_utils.models.autoencoders import Autoencoder, ConvAutoencoder, DenseAutoencoder, linear_autoencoder
from course_utils.models.blocks import conv_decoder, conv_encoder, dense_decoder, dense_encoder
from course_utils.models.codec import (
    FactorizedEntropyModel,
    RateDistortionCodec,
    Scale,
    UnitClip,
    conv_codec,
    dense_codec,
    initialise_from_pca,
    pca_basis,
    quantise,
    refine_latents,
)
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
from course_utils.models.vae import (
    VAE,
    BetaWarmup,
    ConditionalVAE,
    Sampling,
    bernoulli_log_likelihood,
    conditional_dense_vae,
    conv_vae,
    dense_vae,
    gaussian_kl,
    gaussian_kl_per_dimension,
    gaussian_log_likelihood,
)

__all__ = [
    "DESIGNS", "VAE", "Autoencoder", "BetaWarmup", "BicubicUpsample", "ConditionalVAE", "ContractiveAutoencoder", "ConvAutoencoder", "ConvDenoiserBase",
    "DenoisingAutoencoder", "DenseAutoencoder", "DepthToSpace", "FactorizedEntropyModel", "RateDistortionCodec", "ResidualUNet",
    "ResizeConvSR", "Sampling", "Scale", "SparseAutoencoder", "SubPixelSR", "SuperResolution", "TopK", "TransposedConvSR", "UnitClip", "bernoulli_log_likelihood",
    "conditional_dense_vae", "conv_codec", "conv_decoder", "conv_denoiser", "conv_encoder", "conv_vae", "dense_codec", "dense_decoder", "dense_encoder", "dense_vae",
    "gaussian_kl", "gaussian_kl_per_dimension", "gaussian_log_likelihood", "initialise_from_pca", "linear_autoencoder", "make_sr_model",
    "pca_basis", "quantise", "refine_latents",
]
