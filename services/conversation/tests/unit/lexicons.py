"""A few entries of bilingual dictionaries, without the support glossary (the real ones are FreeDict's)."""

from __future__ import annotations

from conversation_service.domain.lexicon import Lexicon

SAMPLE_LEXICON = Lexicon(
    {
        "da": {
            "adgangskode": ("password",),
            "nulstille": ("reset",),
            "levering": ("delivery", "shipping"),
        },
        "nl": {"wachtwoord": ("password",), "getal": ("number",), "willekeurig": ("random",)},
        "fr": {"réinitialiser": ("reset",), "mot de passe": ("password",)},
    },
    glossary={},
)
