"""Availability messages every new account starts with, in six languages."""

# ruff: noqa: E501 - natural-language sentences read better unbroken

from __future__ import annotations

from customer_agent_shared.events.config import AvailabilityMessages

DEFAULT_AVAILABILITY_MESSAGES: dict[str, AvailabilityMessages] = {
    "en": AvailabilityMessages(
        available="Thanks for waiting. A member of our team will be with you shortly.",
        away="Our team is away right now. Leave your question here and we will get back to you as soon as we can.",
        at_capacity="Our team is helping other customers at the moment. We will get to you as soon as possible.",
        outside_hours="We are outside our business hours. Leave a message and we will reply when we are back.",
        handoff_unavailable="I cannot connect you with a person right now, but I am happy to keep helping.",
    ),
    "da": AvailabilityMessages(
        available="Tak fordi du venter. En fra vores team er hos dig om lidt.",
        away="Vores team er ikke til stede lige nu. Skriv dit spørgsmål her, så vender vi tilbage hurtigst muligt.",
        at_capacity="Vores team hjælper andre kunder lige nu. Vi er hos dig så hurtigt som muligt.",
        outside_hours="Vi har lukket lige nu. Efterlad en besked, så svarer vi, når vi er tilbage.",
        handoff_unavailable="Jeg kan ikke sætte dig i forbindelse med en person lige nu, men jeg hjælper gerne videre.",
    ),
    "nl": AvailabilityMessages(
        available="Bedankt voor je geduld. Een collega van ons team helpt je zo.",
        away="Ons team is op dit moment afwezig. Laat je vraag hier achter, dan komen we zo snel mogelijk bij je terug.",
        at_capacity="Ons team helpt op dit moment andere klanten. We helpen je zo snel mogelijk.",
        outside_hours="We zijn nu buiten onze openingstijden. Laat een bericht achter, dan reageren we zodra we terug zijn.",
        handoff_unavailable="Ik kan je nu niet doorverbinden met een medewerker, maar ik help je graag verder.",
    ),
    "de": AvailabilityMessages(
        available="Danke für Ihre Geduld. Ein Mitglied unseres Teams ist gleich für Sie da.",
        away="Unser Team ist gerade nicht erreichbar. Hinterlassen Sie Ihre Frage, wir melden uns so bald wie möglich.",
        at_capacity="Unser Team hilft gerade anderen Kunden. Wir sind so schnell wie möglich für Sie da.",
        outside_hours="Wir sind außerhalb unserer Geschäftszeiten. Hinterlassen Sie eine Nachricht, wir antworten bald.",
        handoff_unavailable="Ich kann Sie gerade nicht mit einer Person verbinden, helfe Ihnen aber gern weiter.",
    ),
    "fr": AvailabilityMessages(
        available="Merci de votre patience. Un membre de notre équipe va vous répondre dans un instant.",
        away="Notre équipe est absente pour le moment. Laissez votre question ici, nous vous répondrons au plus vite.",
        at_capacity="Notre équipe aide d'autres clients en ce moment. Nous vous répondrons dès que possible.",
        outside_hours="Nous sommes en dehors de nos heures d'ouverture. Laissez un message, nous répondrons à notre retour.",
        handoff_unavailable="Je ne peux pas vous mettre en relation avec une personne pour le moment, mais je peux continuer à vous aider.",
    ),
    "es": AvailabilityMessages(
        available="Gracias por esperar. Una persona de nuestro equipo te atenderá en breve.",
        away="Nuestro equipo no está disponible ahora. Deja tu pregunta aquí y te responderemos lo antes posible.",
        at_capacity="Nuestro equipo está ayudando a otros clientes. Te atenderemos lo antes posible.",
        outside_hours="Estamos fuera de nuestro horario de atención. Deja un mensaje y te responderemos a nuestro regreso.",
        handoff_unavailable="Ahora no puedo ponerte en contacto con una persona, pero con gusto sigo ayudándote.",
    ),
}


def messages_with_defaults(custom: dict[str, AvailabilityMessages]) -> dict[str, AvailabilityMessages]:
    """The default languages overlaid by the account's own messages (custom wins per language)."""
    merged = {language: messages.model_copy() for language, messages in DEFAULT_AVAILABILITY_MESSAGES.items()}
    merged.update({language.lower(): messages for language, messages in custom.items()})
    return merged
