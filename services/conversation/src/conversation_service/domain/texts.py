"""The agent's own words (greetings, framing, rephrase requests, handoff notices) in six languages.

Every table has at least en, da, nl, de, fr and es; other languages fall back to English,
and then the reply is labelled English too (see ``text_language``).
"""

from __future__ import annotations

from customer_agent_shared.events.config import AgentRole, Personality

TEXT_LANGUAGES = ("en", "da", "nl", "de", "fr", "es")

REPHRASE_REQUEST: dict[str, str] = {
    "en": "I'm not sure I understood. Could you rephrase your question, perhaps with a few more details?",
    "da": "Jeg er ikke sikker på, at jeg forstod det. Kan du omformulere dit spørgsmål, gerne med lidt flere detaljer?",
    "nl": "Ik weet niet zeker of ik het begrijp. Kunt u uw vraag anders formuleren, misschien met wat meer details?",
    "de": "Ich bin nicht sicher, ob ich das verstanden habe. Können Sie Ihre Frage anders formulieren, "
    "vielleicht mit ein paar Details mehr?",
    "fr": "Je ne suis pas sûr d'avoir compris. Pourriez-vous reformuler votre question, "
    "avec quelques détails de plus ?",
    "es": "No estoy seguro de haberlo entendido. ¿Podría reformular su pregunta, quizá con algún detalle más?",
}

# After a rephrase request, when the nearest pages are likely enough to help (they follow as citations).
RELATED_PAGES: dict[str, str] = {
    "en": "Meanwhile, these pages might help:",
    "da": "Indtil da kan disse sider måske hjælpe:",
    "nl": "Misschien helpen deze pagina's u intussen verder:",
    "de": "Vielleicht helfen Ihnen diese Seiten schon weiter:",
    "fr": "En attendant, ces pages pourraient vous aider :",
    "es": "Mientras tanto, quizá le ayuden estas páginas:",
}

HANDOFF_NOTICE: dict[str, str] = {
    "en": "I'll pass you on to a colleague who can help you further.",
    "da": "Jeg sender dig videre til en kollega, som kan hjælpe dig videre.",
    "nl": "Ik verbind u door met een collega die u verder kan helpen.",
    "de": "Ich leite Sie an eine Kollegin oder einen Kollegen weiter, die Ihnen weiterhelfen können.",
    "fr": "Je vous mets en relation avec un collègue qui pourra vous aider.",
    "es": "Le paso con un compañero que podrá ayudarle.",
}

# No promise of a person: routing's message that follows says what happens next, and on a channel whose
# rule is to stay assigned that is "handoff unavailable".
TEMPORARILY_UNAVAILABLE: dict[str, str] = {
    "en": "Sorry, I can't look this up right now.",
    "da": "Beklager, jeg kan ikke slå det op lige nu.",
    "nl": "Sorry, ik kan dit nu niet opzoeken.",
    "de": "Entschuldigung, ich kann das gerade nicht nachschlagen.",
    "fr": "Désolé, je ne peux pas consulter cela pour le moment.",
    "es": "Lo siento, ahora mismo no puedo consultarlo.",
}

FEEDBACK_THANKS: dict[str, str] = {
    "en": "Thank you for letting me know!",
    "da": "Tak, fordi du gav besked!",
    "nl": "Bedankt voor het laten weten!",
    "de": "Danke für Ihre Rückmeldung!",
    "fr": "Merci de me l'avoir dit !",
    "es": "¡Gracias por decírmelo!",
}

OTHER_LANGUAGE_NOTE: dict[str, str] = {
    "en": "(The source is written in another language.)",
    "da": "(Kilden er skrevet på et andet sprog.)",
    "nl": "(De bron is in een andere taal geschreven.)",
    "de": "(Die Quelle ist in einer anderen Sprache verfasst.)",
    "fr": "(La source est rédigée dans une autre langue.)",
    "es": "(La fuente está escrita en otro idioma.)",
}

GREETING: dict[Personality, dict[str, str]] = {
    Personality.FRIENDLY: {
        "en": "Hi there, I'm {name}!",
        "da": "Hej, jeg hedder {name}!",
        "nl": "Hallo, ik ben {name}!",
        "de": "Hallo, ich bin {name}!",
        "fr": "Bonjour, je suis {name} !",
        "es": "¡Hola, soy {name}!",
    },
    Personality.PROFESSIONAL: {
        "en": "Good day, this is {name}.",
        "da": "Goddag, det er {name}.",
        "nl": "Goedendag, u spreekt met {name}.",
        "de": "Guten Tag, hier ist {name}.",
        "fr": "Bonjour, ici {name}.",
        "es": "Buenos días, le atiende {name}.",
    },
    Personality.CASUAL: {
        "en": "Hey, {name} here.",
        "da": "Hej, {name} her.",
        "nl": "Hoi, {name} hier.",
        "de": "Hey, {name} hier.",
        "fr": "Salut, c'est {name}.",
        "es": "Hola, aquí {name}.",
    },
    Personality.EMPATHETIC: {
        "en": "Hello, I'm {name}, and I'm glad to help.",
        "da": "Hej, jeg er {name}, og jeg hjælper gerne.",
        "nl": "Hallo, ik ben {name} en ik help u graag.",
        "de": "Hallo, ich bin {name} und helfe Ihnen gern.",
        "fr": "Bonjour, je suis {name} et je suis là pour vous aider.",
        "es": "Hola, soy {name} y con gusto le ayudo.",
    },
    Personality.WITTY: {
        "en": "Hi, {name} at your service, no hold music included!",
        "da": "Hej, {name} til tjeneste, helt uden ventemusik!",
        "nl": "Hoi, {name} tot uw dienst, zonder wachtmuziekje!",
        "de": "Hallo, {name} zu Diensten, ganz ohne Warteschleifenmusik!",
        "fr": "Bonjour, {name} à votre service, sans musique d'attente !",
        "es": "¡Hola, {name} a su servicio, sin música de espera!",
    },
}

INTRO: dict[Personality, dict[str, str]] = {
    Personality.FRIENDLY: {
        "en": "Here's what I found:",
        "da": "Her er, hvad jeg fandt:",
        "nl": "Dit heb ik gevonden:",
        "de": "Das habe ich gefunden:",
        "fr": "Voici ce que j'ai trouvé :",
        "es": "Esto es lo que encontré:",
    },
    Personality.PROFESSIONAL: {
        "en": "According to our documentation:",
        "da": "Ifølge vores dokumentation:",
        "nl": "Volgens onze documentatie:",
        "de": "Laut unserer Dokumentation:",
        "fr": "Selon notre documentation :",
        "es": "Según nuestra documentación:",
    },
    Personality.CASUAL: {
        "en": "So, here's the deal:",
        "da": "Kort fortalt:",
        "nl": "Kort gezegd:",
        "de": "Kurz gesagt:",
        "fr": "En bref :",
        "es": "En pocas palabras:",
    },
    Personality.EMPATHETIC: {
        "en": "I understand, let me help. Here's what our help pages say:",
        "da": "Det forstår jeg godt, lad mig hjælpe. Her er, hvad vores hjælpesider siger:",
        "nl": "Dat begrijp ik, ik help u graag. Dit staat er op onze hulppagina's:",
        "de": "Das verstehe ich, ich helfe Ihnen gern. Das steht auf unseren Hilfeseiten:",
        "fr": "Je comprends, je vais vous aider. Voici ce que disent nos pages d'aide :",
        "es": "Lo entiendo, permítame ayudarle. Esto dicen nuestras páginas de ayuda:",
    },
    Personality.WITTY: {
        "en": "Good question! I dug this up for you:",
        "da": "Godt spørgsmål! Det her gravede jeg frem til dig:",
        "nl": "Goede vraag! Dit heb ik voor u opgedoken:",
        "de": "Gute Frage! Das habe ich für Sie ausgegraben:",
        "fr": "Bonne question ! Voici ce que j'ai déniché :",
        "es": "¡Buena pregunta! Esto es lo que encontré para usted:",
    },
}

CLOSING: dict[AgentRole, dict[str, str]] = {
    AgentRole.CUSTOMER_SERVICE: {
        "en": "Is there anything else I can help you with?",
        "da": "Er der andet, jeg kan hjælpe dig med?",
        "nl": "Kan ik u nog ergens anders mee helpen?",
        "de": "Kann ich Ihnen sonst noch helfen?",
        "fr": "Puis-je vous aider pour autre chose ?",
        "es": "¿Puedo ayudarle en algo más?",
    },
    AgentRole.SALES_REPRESENTATIVE: {
        "en": "Would you like help choosing what fits you best?",
        "da": "Vil du have hjælp til at vælge det, der passer dig bedst?",
        "nl": "Wilt u hulp bij het kiezen van wat het beste bij u past?",
        "de": "Möchten Sie Hilfe bei der Auswahl des Passenden?",
        "fr": "Voulez-vous de l'aide pour choisir ce qui vous convient le mieux ?",
        "es": "¿Quiere ayuda para elegir lo que mejor le convenga?",
    },
    AgentRole.MARKETING_SPECIALIST: {
        "en": "Want to hear more about what we offer?",
        "da": "Vil du høre mere om, hvad vi tilbyder?",
        "nl": "Wilt u meer horen over wat we aanbieden?",
        "de": "Möchten Sie mehr über unser Angebot erfahren?",
        "fr": "Voulez-vous en savoir plus sur nos offres ?",
        "es": "¿Quiere saber más sobre lo que ofrecemos?",
    },
}


def text_language(language: str) -> str:
    """The language the system texts will actually be in for ``language`` (English when missing)."""
    return language if language in TEXT_LANGUAGES else "en"


def pick(table: dict[str, str], language: str) -> str:
    """The entry of ``table`` for ``language``, English when the language has none."""
    return table.get(language) or table["en"]


def greeting(personality: Personality, language: str, name: str) -> str:
    """The opening line of a thread, in the agent's tone."""
    return pick(GREETING[personality], language).format(name=name)


def intro(personality: Personality, language: str) -> str:
    """The phrase that introduces a retrieved passage."""
    return pick(INTRO[personality], language)


def closing(role: AgentRole, language: str) -> str:
    """The last line of an answer, shaped by the agent's role."""
    return pick(CLOSING[role], language)
