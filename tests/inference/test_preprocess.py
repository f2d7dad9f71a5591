import numpy as np
import pytest

from segview.inference.card import ModelCard, Normalization
from segview.inference.preprocess import Preprocessor

DEFAULT_NORMALIZATION = Normalization()


def _card(layout, color_order="RGB", norm=DEFAULT_NORMALIZATION):
    return ModelCard(
        name="m", input_name="input", width=4, height=2, layout=layout, output_name="o", output_kind="sigmoid", color_order=color_order, normalization=norm
    )


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("color_order", ["RGB", "BGR"])
def test_layout_colour_order_and_normalisation(layout, color_order):
    norm = Normalization(scale=1 / 255, mean=(0.5, 0.25, 0.0), std=(0.5, 0.25, 1.0))
    image = np.zeros((2, 4, 3), np.uint8)
    image[..., 0], image[..., 1], image[..., 2] = 10, 128, 255  # B, G, R
    tensor = Preprocessor(_card(layout, color_order, norm))(image)
    channels = (255, 128, 10) if color_order == "RGB" else (10, 128, 255)
    expected = [(v / 255 - m) / s for v, m, s in zip(channels, norm.mean, norm.std, strict=True)]
    per_channel = tensor[0, :, 0, 0] if layout == "NCHW" else tensor[0, 0, 0, :]
    assert tensor.shape == ((1, 3, 2, 4) if layout == "NCHW" else (1, 2, 4, 3))
    assert tensor.dtype == np.float32 and tensor.flags.c_contiguous
    assert np.allclose(per_channel, expected, atol=1e-6)
