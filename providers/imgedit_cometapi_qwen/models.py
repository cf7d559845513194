"""qwen-image-edit capabilities behind CometAPI.

CometAPI only says the model "follows provider-specific edit behavior", so these flags follow
Alibaba's upstream rules and the open-source gateway CometAPI's errors match. All of it is
*unconfirmed* against CometAPI itself; each fact is one constant here.
"""

from __future__ import annotations

from imgedit_core import Capabilities, ModelSpec

#: Upstream takes 1-3 input images.
MAX_INPUT_IMAGES = 3
#: The plus and max variants take n up to 6 upstream; the base model n = 1 only.
MAX_N_PLUS = 6
#: The gateway forwards ``watermark``; it ignores seed, negative_prompt, size and mask, which
#: are therefore refused here rather than silently lost.
EXTRA_OPTIONS = ("watermark",)

_BASE = Capabilities(
    mask=False,
    url_output=True,
    b64_output=True,
    response_formats=("url", "b64_json"),
    output_formats=(),
    default_output_format="png",
    max_images=MAX_INPUT_IMAGES,
    min_n=1,
    max_n=1,
    extra_options=EXTRA_OPTIONS,
    notes="answers a PNG URL valid for 24 hours; no mask, size, quality or output format",
)


def _variant(name: str, max_n: int, description: str) -> ModelSpec:
    import attrs

    return ModelSpec(
        name=name, description=description, capabilities=attrs.evolve(_BASE, max_n=max_n)
    )


MODELS: tuple[ModelSpec, ...] = (
    _variant("qwen-image-edit", 1, "Alibaba's image edit model"),
    _variant("qwen-image-edit-plus", MAX_N_PLUS, "multi-image edits, n up to 6 upstream"),
    _variant("qwen-image-edit-max", MAX_N_PLUS, "the largest qwen edit model"),
)
