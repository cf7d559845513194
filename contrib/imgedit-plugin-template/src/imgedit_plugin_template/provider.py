"""Example Images, a made-up gateway that speaks OpenAI's image edit wire format.

``OpenAICompatibleProvider`` already builds the multipart request and reads the answers and
errors, so a provider for such a gateway only says where it is and what its models accept.
"""

from __future__ import annotations

from collections.abc import Sequence

from imgedit_core import Capabilities, ModelSpec, OpenAICompatibleProvider

#: What each model accepts. The core refuses anything not declared here before sending, so
#: declare only what the service really honours: an undeclared option is refused, never dropped.
MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="example-image-edit",
        description="Example Images' edit model",
        capabilities=Capabilities(
            mask=True,
            sizes=("1024x1024", "1536x1024", "1024x1536"),
            output_formats=("png", "jpeg"),
            max_images=2,
            max_n=2,
        ),
    ),
)


class ExampleImagesProvider(OpenAICompatibleProvider):
    """``POST {base_url}/images/edits``, the key from ``$EXAMPLE_IMAGES_API_KEY`` as a Bearer."""

    name = "example-images"
    description = "Example Images (an OpenAI-compatible gateway; a template to copy)"
    default_base_url = "https://api.example.com/v1"
    base_url_env = "EXAMPLE_IMAGES_BASE_URL"
    key_env = "EXAMPLE_IMAGES_API_KEY"

    def models(self) -> Sequence[ModelSpec]:
        return MODELS
